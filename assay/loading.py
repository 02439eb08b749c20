"""Load a code location from `-m module` or `-f file.py` and find its one `Definitions`."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType

from assay.definitions.definitions import Definitions
from assay.errors import AssayError, LoadError

_PACKAGE_DIR = str(Path(__file__).resolve().parent) + os.sep

# Files loaded as modules in this process (module name -> path), so worker processes can
# load the same files under the same names before unpickling references into them.
loaded_files: dict[str, str] = {}


def module_name_for_file(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(ch if ch.isalnum() else "_" for ch in path.stem)
    return f"assay_location_{stem}_{digest}"


def load_file_as_module(file: str | os.PathLike[str]) -> ModuleType:
    """Import a Python file under a stable module name (its directory joins sys.path)."""
    path = Path(file).resolve()
    if not path.is_file():
        raise LoadError(f"no such file: {file}")
    if dotted := _package_module_name(path):
        # A file inside a package imports its siblings package-absolutely
        # (`from analytics.assets import ...`): load it by that name from the package root.
        root = path.parents[dotted.count(".")]
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        return import_user_module(dotted)
    name = module_name_for_file(path)
    if name in sys.modules:
        return sys.modules[name]
    # Like `python file.py` (its directory) plus the working directory, so package-absolute
    # imports from a project root keep working.
    for directory in (os.getcwd(), str(path.parent)):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot load {file} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except AssayError as exc:
        del sys.modules[name]
        raise _with_location(exc) from None
    except BaseException as exc:
        del sys.modules[name]
        raise LoadError(f"error while loading {file}:\n{_user_traceback(exc)}") from exc
    loaded_files[name] = str(path)
    return module


def _package_module_name(path: Path) -> str | None:
    """`root/pkg/sub/mod.py` -> `pkg.sub.mod` when pkg and sub hold `__init__.py`; else None."""
    parts = [path.stem] if path.stem != "__init__" else []
    directory = path.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    if not parts or directory == path.parent:
        return None
    return ".".join(parts)


def import_user_module(module_name: str) -> ModuleType:
    """Import a module the way `python -m` would (the working directory is importable)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except AssayError as exc:
        raise _with_location(exc) from None
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise LoadError(
                f"no module named '{module_name}' (searched the working directory and "
                "the installed packages)"
            ) from exc
        raise LoadError(f"error while importing {module_name}:\n{_user_traceback(exc)}") from exc
    except BaseException as exc:
        raise LoadError(f"error while importing {module_name}:\n{_user_traceback(exc)}") from exc


def find_definitions(module: ModuleType, attribute: str | None = None) -> Definitions:
    """The module's single `Definitions` object (or the named one)."""
    where = getattr(module, "__file__", None) or module.__name__
    if attribute is not None:
        value = getattr(module, attribute, None)
        if not isinstance(value, Definitions):
            raise LoadError(f"{where} has no Definitions object named '{attribute}'")
        return value
    found = {name: v for name, v in vars(module).items() if isinstance(v, Definitions)}
    if not found:
        raise LoadError(
            f"{where} defines no Definitions object; add e.g. "
            "`defs = Definitions(assets=[...])` at module level"
        )
    if len(found) > 1:
        names = ", ".join(sorted(found))
        raise LoadError(
            f"{where} defines several Definitions objects ({names}); pick one with -a/--attribute"
        )
    return next(iter(found.values()))


def load_definitions(
    *, module: str | None = None, file: str | None = None, attribute: str | None = None
) -> Definitions:
    """Load a code location from exactly one of `module` or `file`."""
    if (module is None) == (file is None):
        raise LoadError("say where the definitions are: -m module or -f file.py (exactly one)")
    mod = import_user_module(module) if module is not None else load_file_as_module(file)  # type: ignore[arg-type]
    return find_definitions(mod, attribute)


def _with_location(exc: AssayError) -> AssayError:
    """Point at the user's line that raised a definition error (e.g. a bad decorator call)."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "importlib" not in f.filename and not f.filename.startswith(_PACKAGE_DIR)
    ]
    if not frames:
        return exc
    where = frames[-1]
    located = type(exc)(f"{exc} ({where.filename}, line {where.lineno})")
    return located


def _user_traceback(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    user = [
        f
        for f in frames
        if "importlib" not in f.filename and not f.filename.startswith(_PACKAGE_DIR)
    ]
    text = "".join(traceback.format_list(user or frames))
    return text + "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
