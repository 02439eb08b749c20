"""The API's JSON parser: input Python's parser or our renderer cannot take is a 400.

JSON nested thousands of levels deep makes the standard parser raise ``RecursionError``,
and an escaped lone surrogate (``"\\ud800"``) parses into a string that is not Unicode
text: echoed in an error message it breaks the renderer. Both are refused here, once for
every view, instead of in each serializer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# A \uD800-\uDFFF escape; only then can the parsed text hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            data = json.loads(raw)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if _SURROGATE_ESCAPE.search(raw):
            try:
                json.dumps(data, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise ParseError("JSON parse error - a string is not valid Unicode.") from None
            except RecursionError:
                raise ParseError("JSON parse error - nested too deeply.") from None
        return data
