"""`assay.yaml`: what the agent connects to, where it keeps state and which code it serves.

Loading validates everything up front and raises one `ConfigError` naming the field
(`code_locations[1].module`), so a typo fails at start-up with a clear message instead
of surfacing later as a confusing connection or import failure.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent.git_source import GitSource, GitSourceError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ENV_REFERENCE = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(Exception):
    """The config is invalid; `field` is the path of the offending value (empty: the file)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class Secret:
    """A value that must never reach a log: `str()`/`repr()` show it masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value; call only where it is sent (the gRPC call metadata)."""
        return self._value

    @property
    def masked(self) -> str:
        return f"****{self._value[-4:]}" if len(self._value) >= 16 else "****"

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class TlsConfig:
    """How the stream is secured. Default: TLS with the system's trusted roots."""

    ca_file: Path | None = None
    insecure: bool = False
    allow_insecure: bool = False
    cert_file: Path | None = None  # client certificate, for a control plane that asks for one
    key_file: Path | None = None


@dataclass(frozen=True)
class ControlPlaneConfig:
    address: str
    token: Secret
    token_source: str  # "inline" or "$NAME", for messages that must not show the token
    tls: TlsConfig

    @property
    def host(self) -> str:
        return _split_address(self.address)[0]


@dataclass(frozen=True)
class CodeLocationConfig:
    """One code location, loaded in its own subprocess with its own interpreter and env."""

    name: str
    module: str | None
    file: Path | None
    working_directory: Path
    python: Path
    env: Mapping[str, str] = field(default_factory=dict)
    # A git source: `working_directory` and `file` are then resolved in the commit's worktree
    # under `git_root` when the location loads (`agent.location_process.resolve_git`).
    git: GitSource | None = None
    git_root: Path | None = None

    @property
    def target(self) -> str:
        """Where the definitions come from, for messages: `-m pkg.mod` or `-f path.py`."""
        return f"-m {self.module}" if self.module is not None else f"-f {self.file}"


@dataclass(frozen=True)
class KubernetesLauncherConfig:
    """`launcher: {kind: kubernetes, ...}`: every run becomes a Job with these settings."""

    image: str
    namespace: str = "default"
    service_account: str | None = None
    image_pull_policy: str = "IfNotPresent"
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    poll_seconds: float = 2.0
    ttl_seconds_after_finished: int | None = 3600
    kubeconfig: Path | None = None  # None: in-cluster credentials, else ~/.kube/config
    context: str | None = None


@dataclass(frozen=True)
class AgentConfig:
    source: Path
    control_plane: ControlPlaneConfig
    state_dir: Path
    deployments: tuple[str, ...]
    code_locations: tuple[CodeLocationConfig, ...]
    launcher: KubernetesLauncherConfig | None = None  # None: local processes
    # Also serve the branch deployments (one per pull request) of `deployments`, at the
    # commits the control plane names (`agent.branches`).
    branch_deployments: bool = True


def load_config(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> AgentConfig:
    """Read and validate an `assay.yaml`; relative paths are relative to the file's directory."""
    source = Path(os.path.abspath(path))  # not resolve(): keep a symlinked (ConfigMap) dir
    try:
        text = source.read_text()
    except FileNotFoundError:
        raise ConfigError("", f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{path} is not valid YAML: {exc}") from None
    return parse_config(data, base_dir=source.parent, source=source, environ=environ)


def parse_config(
    data: Any,
    *,
    base_dir: Path,
    source: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> AgentConfig:
    """Validate already-parsed YAML (a mapping) into an `AgentConfig`."""
    environ = os.environ if environ is None else environ
    top = _mapping(
        data,
        "",
        required=("control_plane", "state_dir", "deployments", "code_locations"),
        optional=("launcher", "branch_deployments"),
    )
    control_plane = _control_plane(top["control_plane"], "control_plane", base_dir, environ)
    state_dir = _path(top["state_dir"], "state_dir", base_dir)
    deployments = _deployments(top["deployments"], "deployments")
    locations_raw = _list(top["code_locations"], "code_locations", non_empty=True)
    locations = tuple(
        _code_location(item, f"code_locations[{index}]", base_dir, state_dir)
        for index, item in enumerate(locations_raw)
    )
    seen: dict[str, int] = {}
    for index, location in enumerate(locations):
        if location.name in seen:
            raise ConfigError(
                f"code_locations[{index}].name",
                f"duplicate code location name {location.name!r} "
                f"(also code_locations[{seen[location.name]}])",
            )
        seen[location.name] = index
    return AgentConfig(
        source=source or base_dir / "assay.yaml",
        control_plane=control_plane,
        state_dir=state_dir,
        deployments=deployments,
        code_locations=locations,
        launcher=_launcher(top.get("launcher"), "launcher", base_dir),
        branch_deployments=_bool(top.get("branch_deployments", True), "branch_deployments"),
    )


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback IPs: plaintext there never crosses a network."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- sections ---------------------------------------------------------------------------


def _control_plane(
    data: Any, where: str, base_dir: Path, environ: Mapping[str, str]
) -> ControlPlaneConfig:
    section = _mapping(data, where, required=("address", "token"), optional=("tls",))
    address = _string(section["address"], f"{where}.address")
    host, _port = _split_address(address, f"{where}.address")
    token_raw = _string(section["token"], f"{where}.token")
    token, token_source = _token(token_raw, f"{where}.token", environ)
    tls = _tls(section.get("tls", {}), f"{where}.tls", base_dir)
    if tls.insecure and not tls.allow_insecure and not is_loopback_host(host):
        raise ConfigError(
            f"{where}.tls.insecure",
            f"plaintext is only allowed to a loopback address, not {host!r}: the agent "
            "token would cross the network unencrypted (set tls.allow_insecure: true "
            "to do it anyway)",
        )
    return ControlPlaneConfig(address=address, token=token, token_source=token_source, tls=tls)


def _tls(data: Any, where: str, base_dir: Path) -> TlsConfig:
    section = _mapping(
        data,
        where,
        required=(),
        optional=("ca_file", "insecure", "allow_insecure", "cert_file", "key_file"),
    )
    insecure = _bool(section.get("insecure", False), f"{where}.insecure")
    allow_insecure = _bool(section.get("allow_insecure", False), f"{where}.allow_insecure")
    files: dict[str, Path | None] = {}
    for name in ("ca_file", "cert_file", "key_file"):
        files[name] = None
        if section.get(name) is None:
            continue
        path = _path(section[name], f"{where}.{name}", base_dir)
        if insecure:
            raise ConfigError(
                f"{where}.{name}", f"{name} makes no sense with insecure: true (no TLS)"
            )
        if not path.is_file():
            raise ConfigError(f"{where}.{name}", f"no such file: {path}")
        files[name] = path
    if (files["cert_file"] is None) != (files["key_file"] is None):
        missing = "key_file" if files["key_file"] is None else "cert_file"
        raise ConfigError(f"{where}.{missing}", "give both cert_file and key_file, or neither")
    if allow_insecure and not insecure:
        raise ConfigError(f"{where}.allow_insecure", "only meaningful with insecure: true")
    return TlsConfig(insecure=insecure, allow_insecure=allow_insecure, **files)


def _token(raw: str, where: str, environ: Mapping[str, str]) -> tuple[Secret, str]:
    match = _ENV_REFERENCE.match(raw)
    if match is None:
        if raw.startswith("$"):
            raise ConfigError(where, "an environment reference looks like $NAME or ${NAME}")
        return Secret(raw), "inline"
    name = match.group(1) or match.group(2)
    value = environ.get(name, "")
    if not value.strip():
        raise ConfigError(where, f"environment variable {name} (referenced as ${name}) is not set")
    return Secret(value.strip()), f"${name}"


def _deployments(data: Any, where: str) -> tuple[str, ...]:
    items = _list(data, where, non_empty=True)
    names: list[str] = []
    for index, item in enumerate(items):
        name = _string(item, f"{where}[{index}]")
        if len(name) > 63 or any(ch.isspace() for ch in name):
            raise ConfigError(
                f"{where}[{index}]", "a deployment name has at most 63 characters and no spaces"
            )
        if name in names:
            raise ConfigError(f"{where}[{index}]", f"deployment {name!r} is listed twice")
        names.append(name)
    return tuple(names)


def _code_location(
    data: Any, where: str, base_dir: Path, state_dir: Path | None = None
) -> CodeLocationConfig:
    section = _mapping(
        data,
        where,
        required=("name",),
        optional=("module", "file", "working_directory", "python", "env", "git"),
    )
    git = _git_source(section["git"], f"{where}.git") if section.get("git") is not None else None
    name = _string(section["name"], f"{where}.name")
    if not _NAME.match(name):
        raise ConfigError(
            f"{where}.name",
            f"{name!r} is not a valid code location name (1-63 letters, digits, '_', '-', "
            "'.'; starting with a letter, digit or '_')",
        )
    has_module, has_file = section.get("module") is not None, section.get("file") is not None
    if has_module == has_file:
        raise ConfigError(
            f"{where}.module",
            "give exactly one of module or file"
            + (" (both are set)" if has_module else " (neither is set)"),
        )
    working_directory = base_dir
    if git is not None:
        # Resolved in the commit's worktree at load time; nothing to check on this disk yet.
        if section.get("working_directory") is not None:
            raise ConfigError(f"{where}.working_directory", "use git.subdirectory with git")
        git_root = (state_dir or base_dir) / "git"
        working_directory = git_root
    elif section.get("working_directory") is not None:
        working_directory = _path(
            section["working_directory"], f"{where}.working_directory", base_dir
        )
    if git is None and not working_directory.is_dir():
        raise ConfigError(f"{where}.working_directory", f"no such directory: {working_directory}")
    module = file = None
    if has_module:
        module = _string(section["module"], f"{where}.module")
        if not _MODULE.match(module):
            raise ConfigError(f"{where}.module", f"{module!r} is not a dotted Python module name")
    elif git is not None:
        file = Path(_string(section["file"], f"{where}.file"))
        if file.is_absolute() or ".." in file.parts:
            raise ConfigError(f"{where}.file", "with git, file is a path inside the repository")
    else:
        file = _path(section["file"], f"{where}.file", working_directory)
        if not file.is_file():
            raise ConfigError(f"{where}.file", f"no such file: {file}")
    python = Path(sys.executable)
    if section.get("python") is not None:
        python = _path(section["python"], f"{where}.python", working_directory)
        if not (python.is_file() and os.access(python, os.X_OK)):
            raise ConfigError(f"{where}.python", f"not an executable file: {python}")
    env = _env(section.get("env") or {}, f"{where}.env")
    return CodeLocationConfig(
        name=name,
        module=module,
        file=file,
        working_directory=working_directory,
        python=python,
        env=env,
        git=git,
        git_root=working_directory if git is not None else None,
    )


def _git_source(data: Any, where: str) -> GitSource:
    section = _mapping(data, where, required=("repo", "commit"), optional=("subdirectory",))
    try:
        return GitSource(
            repo=_string(section["repo"], f"{where}.repo"),
            commit=_string(section["commit"], f"{where}.commit"),
            subdirectory=_string(section.get("subdirectory") or "", f"{where}.subdirectory")
            if section.get("subdirectory")
            else "",
        )
    except GitSourceError as exc:
        raise ConfigError(where, str(exc)) from None


def _launcher(data: Any, where: str, base_dir: Path) -> KubernetesLauncherConfig | None:
    if data is None or data == "process":
        return None
    section = _mapping(
        data,
        where,
        required=("kind",),
        optional=(
            "image",
            "namespace",
            "service_account",
            "image_pull_policy",
            "resources",
            "env",
            "node_selector",
            "poll_seconds",
            "ttl_seconds_after_finished",
            "kubeconfig",
            "context",
        ),
    )
    kind = _string(section["kind"], f"{where}.kind")
    if kind == "process":
        return None
    if kind != "kubernetes":
        raise ConfigError(f"{where}.kind", f"expected process or kubernetes, got {kind!r}")
    if section.get("image") is None:
        raise ConfigError(f"{where}.image", "required for the kubernetes launcher")
    resources: dict[str, dict[str, str]] = {}
    raw_resources = section.get("resources") or {}
    _mapping(raw_resources, f"{where}.resources", required=(), optional=("requests", "limits"))
    for part, values in raw_resources.items():
        resources[part] = _env_like(values, f"{where}.resources.{part}", names=False)
    policy = _string(section.get("image_pull_policy", "IfNotPresent"), f"{where}.image_pull_policy")
    if policy not in ("Always", "IfNotPresent", "Never"):
        raise ConfigError(f"{where}.image_pull_policy", "expected Always, IfNotPresent or Never")
    poll = section.get("poll_seconds", 2.0)
    if isinstance(poll, bool) or not isinstance(poll, int | float) or poll <= 0:
        raise ConfigError(f"{where}.poll_seconds", "expected a positive number of seconds")
    ttl = section.get("ttl_seconds_after_finished", 3600)
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
        raise ConfigError(f"{where}.ttl_seconds_after_finished", "expected seconds (0 or more)")
    optional_text = {
        name: None if section.get(name) is None else _string(section[name], f"{where}.{name}")
        for name in ("service_account", "context")
    }
    kubeconfig = None
    if section.get("kubeconfig") is not None:
        kubeconfig = _path(section["kubeconfig"], f"{where}.kubeconfig", base_dir)
        if not kubeconfig.is_file():
            raise ConfigError(f"{where}.kubeconfig", f"no such file: {kubeconfig}")
    return KubernetesLauncherConfig(
        image=_string(section["image"], f"{where}.image"),
        namespace=_string(section.get("namespace", "default"), f"{where}.namespace"),
        image_pull_policy=policy,
        resources=resources,
        env=_env(section.get("env") or {}, f"{where}.env"),
        node_selector=_env_like(
            section.get("node_selector") or {}, f"{where}.node_selector", names=False
        ),
        poll_seconds=float(poll),
        ttl_seconds_after_finished=ttl,
        kubeconfig=kubeconfig,
        **optional_text,
    )


def _env_like(data: Any, where: str, *, names: bool) -> dict[str, str]:
    """A mapping of string keys to scalar values (label selectors, resource quantities)."""
    if names:
        return _env(data, where)
    if not isinstance(data, dict):
        raise ConfigError(where, f"expected a mapping, got {_kind(data)}")
    values: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{where}.{key}", f"expected a string, got {_kind(value)}")
        values[str(key)] = str(value)
    return values


def _env(data: Any, where: str) -> dict[str, str]:
    if not isinstance(data, dict):
        raise ConfigError(where, f"expected a mapping of NAME: value, got {_kind(data)}")
    env: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise ConfigError(where, f"{key!r} is not a valid environment variable name")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(
                f"{where}.{key}", f"expected a string (quote it in YAML), got {_kind(value)}"
            )
        env[key] = str(value)
    return env


# -- primitives -------------------------------------------------------------------------


def _mapping(
    data: Any, where: str, *, required: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, Any]:
    label = where or "the config file"
    if data is None and not required:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            where,
            f"expected a mapping, got {_kind(data)}"
            if where
            else f"{label} must be a YAML mapping, got {_kind(data)}",
        )
    allowed = (*required, *optional)
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            raise ConfigError(
                _join(where, str(key)),
                f"unknown key ({suggestion}allowed: {', '.join(allowed)})",
            )
    for key in required:
        if data.get(key) is None:
            raise ConfigError(_join(where, key), "required")
    return data


def _list(data: Any, where: str, *, non_empty: bool) -> list[Any]:
    if not isinstance(data, list):
        raise ConfigError(where, f"expected a list, got {_kind(data)}")
    if non_empty and not data:
        raise ConfigError(where, "must list at least one entry")
    return data


def _string(data: Any, where: str) -> str:
    if not isinstance(data, str):
        raise ConfigError(where, f"expected a string, got {_kind(data)}")
    if not data.strip():
        raise ConfigError(where, "must not be empty")
    return data.strip()


def _bool(data: Any, where: str) -> bool:
    if not isinstance(data, bool):
        raise ConfigError(where, f"expected true or false, got {_kind(data)}")
    return data


def _path(data: Any, where: str, base: Path) -> Path:
    text = _string(data, where)
    # normpath, not resolve(): a virtualenv's `bin/python` is a symlink that must be run
    # through its own path, or the interpreter would not find the virtualenv.
    return Path(os.path.normpath(base / os.path.expanduser(text)))


def _split_address(address: str, where: str = "control_plane.address") -> tuple[str, int]:
    if "://" in address:
        raise ConfigError(where, f"give host:port without a scheme, not {address!r}")
    host, sep, port_text = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(
            where, f"expected host:port (e.g. assay.example.com:443), got {address!r}"
        )
    return host, int(port_text)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[str] = set()
    for key_node, _value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key_node.value!r} is given twice", key_node.start_mark
                )
            seen.add(key_node.value)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
