"""What one Chaos Toolkit action does to the lab's stack, as events.

Understood providers:

* ``python``, module ``chaostoxi.toxic.actions`` (chaostoolkit-toxiproxy 0.3.1):
  ``create_toxic``, ``create_latency_toxic``, ``create_bandwith_degradation_toxic``
  (sic), ``create_slow_connection_close_toxic``, ``create_timeout_toxic``,
  ``create_slicer_toxic``, ``create_limiter_toxic``, ``delete_toxic``;
* ``python``, module ``chaostoxi.proxy.actions``: ``disable_proxy``,
  ``enable_proxy``, ``modify_proxy`` (``enabled`` only) and ``reset``
  (``create_proxy`` and ``delete_proxy`` are refused: the lab owns its proxies);
* ``process``: ``pkill``/``killall`` with ``-STOP``, ``-CONT``, ``-KILL``/``-9``,
  ``-TERM`` (the default), and ``docker pause|unpause|kill|stop|start``, naming a
  component the lab starts (``classifier``...).

Anything else is a problem at its JSON path.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from scenarios.faults import TOXIC_ATTRIBUTES
from scenarios.importers.experiment import Configuration, Findings, Node

TOXIC_MODULE = "chaostoxi.toxic.actions"
PROXY_MODULE = "chaostoxi.proxy.actions"


@dataclass(frozen=True)
class ToxicSpec:
    proxy: str
    name: str
    toxic: str
    stream: str
    toxicity: float
    attributes: dict[str, int]


@dataclass(frozen=True)
class CreateToxic:
    spec: ToxicSpec


@dataclass(frozen=True)
class DeleteToxic:
    proxy: str
    name: str


@dataclass(frozen=True)
class SetProxy:
    proxy: str
    enabled: bool


@dataclass(frozen=True)
class ResetAll:
    """``chaostoxi.proxy.actions.reset``: every proxy enabled, every toxic removed."""


ProcessAction = Literal["pause", "resume", "kill", "start"]


@dataclass(frozen=True)
class SignalProcess:
    component: str
    action: ProcessAction


Event = CreateToxic | DeleteToxic | SetProxy | ResetAll | SignalProcess


@dataclass(frozen=True)
class Signature:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    toxic: str | None = None  # the toxic type a create_*_toxic helper creates
    attributes: dict[str, str] = field(default_factory=dict)  # argument -> toxic attribute


TOXIC_FUNCTIONS: dict[str, Signature] = {
    "create_toxic": Signature(
        ("for_proxy", "toxic_name", "toxic_type"), ("stream", "toxicity", "attributes")
    ),
    "create_latency_toxic": Signature(
        ("for_proxy", "toxic_name", "latency"),
        ("jitter",),
        "latency",
        {"latency": "latency", "jitter": "jitter"},
    ),
    "create_bandwith_degradation_toxic": Signature(
        ("for_proxy", "toxic_name", "rate"), (), "bandwidth", {"rate": "rate"}
    ),
    "create_slow_connection_close_toxic": Signature(
        ("for_proxy", "toxic_name", "delay"), (), "slow_close", {"delay": "delay"}
    ),
    "create_timeout_toxic": Signature(
        ("for_proxy", "toxic_name", "timeout"), (), "timeout", {"timeout": "timeout"}
    ),
    "create_slicer_toxic": Signature(
        ("for_proxy", "toxic_name", "average_size", "size_variation", "delay"),
        (),
        "slicer",
        {"average_size": "average_size", "size_variation": "size_variation", "delay": "delay"},
    ),
    "create_limiter_toxic": Signature(
        ("for_proxy", "toxic_name", "bytes_limit"), (), "limit_data", {"bytes_limit": "bytes"}
    ),
    "delete_toxic": Signature(("for_proxy", "toxic_name")),
}
PROXY_FUNCTIONS: dict[str, Signature] = {
    "disable_proxy": Signature(("proxy_name",)),
    "enable_proxy": Signature(("proxy_name",)),
    "modify_proxy": Signature(("proxy_name",), ("listen_address", "upstream_address", "enabled")),
    "reset": Signature(()),
}
REFUSED_PROXY_FUNCTIONS = {
    "create_proxy": "the lab creates its own proxies (one per dependency of the target profile)",
    "delete_proxy": "the lab's proxies are its dependencies' only path; `disable_proxy` "
    "(proxy_down) is the fault it can undo",
}
#: chaostoolkit-toxiproxy's helpers create with these; create_toxic takes them as arguments.
HELPER_STREAM = "downstream"
HELPER_TOXICITY = 1.0

_SIGNALS: dict[str, ProcessAction] = {
    "STOP": "pause",
    "19": "pause",
    "CONT": "resume",
    "18": "resume",
    "KILL": "kill",
    "9": "kill",
    "TERM": "kill",
    "15": "kill",
}
_DOCKER: dict[str, ProcessAction] = {
    "pause": "pause",
    "unpause": "resume",
    "kill": "kill",
    "stop": "kill",
    "start": "start",
}


@dataclass
class Context:
    """What an action may name: the profile's proxies and the components the lab starts."""

    findings: Findings
    configuration: Configuration
    proxies: list[str]
    components: list[str]


def action_events(activity: Node, ctx: Context) -> list[Event]:
    """The events of one action (empty when it was refused; the reason is in ``ctx.findings``)."""
    provider = activity.child("provider")
    kind = provider.child("type").value
    if kind == "python":
        return _python(provider, ctx)
    if kind == "process":
        event = _process(provider, ctx)
        return [] if event is None else [event]
    ctx.findings.reject(
        provider.child("type"),
        f"a {kind!r} action has no fault in the lab (toxiproxy python actions and "
        "process signals do)",
    )
    return []


def _python(provider: Node, ctx: Context) -> list[Event]:
    module, func = provider.child("module"), provider.child("func")
    for key in provider.names():
        if key not in ("type", "module", "func", "arguments"):
            ctx.findings.reject(provider.child(key), "not a key of a python provider")
    if module.value == TOXIC_MODULE:
        functions = TOXIC_FUNCTIONS
    elif module.value == PROXY_MODULE:
        functions = PROXY_FUNCTIONS
        if func.value in REFUSED_PROXY_FUNCTIONS:
            ctx.findings.reject(func, REFUSED_PROXY_FUNCTIONS[str(func.value)])
            return []
    else:
        ctx.findings.reject(
            module,
            f"module {module.value!r} has no fault in the lab (it takes {TOXIC_MODULE} "
            f"and {PROXY_MODULE} from chaostoolkit-toxiproxy)",
        )
        return []
    signature = functions.get(str(func.value))
    if signature is None:
        ctx.findings.reject(
            func, f"{module.value} has no action {func.value!r} (it has: {', '.join(functions)})"
        )
        return []
    args = _arguments(provider.child("arguments"), signature, ctx)
    if args is None:
        return []
    return _toxiproxy_events(str(func.value), signature, args, ctx)


def _arguments(node: Node, signature: Signature, ctx: Context) -> dict[str, Node] | None:
    """Each argument, placeholders substituted; None when one is missing or unknown."""
    if node.value is not None and not node.is_mapping:
        ctx.findings.reject(node, "arguments are a mapping of name to value")
        return None
    args = {key: ctx.configuration.resolve(node.child(key)) for key in node.names()}
    ok = True
    for key in args:
        if key not in signature.required and key not in signature.optional:
            ctx.findings.reject(node.child(key), "not an argument of this action")
            ok = False
    missing = [name for name in signature.required if name not in args]
    if missing:
        ctx.findings.reject(node, f"missing argument {', '.join(missing)}")
        ok = False
    return args if ok else None


def _toxiproxy_events(
    func: str, signature: Signature, args: dict[str, Node], ctx: Context
) -> list[Event]:
    if func == "reset":
        return [ResetAll()]
    if func in ("disable_proxy", "enable_proxy", "modify_proxy"):
        proxy = _proxy(args["proxy_name"], ctx)
        if func == "modify_proxy":
            for moved in ("listen_address", "upstream_address"):
                if moved in args and args[moved].value is not None:
                    ctx.findings.reject(
                        args[moved], "the lab does not move its proxies; only `enabled` maps"
                    )
                    proxy = None
            enabled = args.get("enabled")
            if proxy is None:
                return []
            if enabled is None or not isinstance(enabled.value, bool):
                where = enabled if enabled is not None else args["proxy_name"]
                ctx.findings.reject(where, "modify_proxy maps only with enabled: true or false")
                return []
            return [SetProxy(proxy, enabled.value)]
        return [] if proxy is None else [SetProxy(proxy, func == "enable_proxy")]
    proxy, name = _proxy(args["for_proxy"], ctx), _string(args["toxic_name"], ctx)
    if proxy is None or name is None:
        return []
    if func == "delete_toxic":
        return [DeleteToxic(proxy, name)]
    spec = _toxic(proxy, name, signature, args, ctx)
    return [] if spec is None else [CreateToxic(spec)]


def _toxic(
    proxy: str, name: str, signature: Signature, args: dict[str, Node], ctx: Context
) -> ToxicSpec | None:
    if signature.toxic is not None:
        attributes = {
            attribute: _integer(args[arg], ctx)
            for arg, attribute in signature.attributes.items()
            if arg in args
        }
        if "jitter" in signature.attributes and "jitter" not in args:
            attributes["jitter"] = 0  # chaostoolkit-toxiproxy sends its default
        return _spec(proxy, name, signature.toxic, HELPER_STREAM, HELPER_TOXICITY, attributes)
    toxic = _string(args["toxic_type"], ctx)
    if toxic is not None and toxic not in TOXIC_ATTRIBUTES:
        ctx.findings.reject(
            args["toxic_type"],
            f"toxic type {toxic!r} is not one the lab injects ({', '.join(TOXIC_ATTRIBUTES)})",
        )
        toxic = None
    stream = args.get("stream", Node(HELPER_STREAM))
    if stream.value not in ("upstream", "downstream"):
        ctx.findings.reject(stream, "stream is upstream or downstream")
    toxicity = args.get("toxicity", Node(HELPER_TOXICITY))
    if (
        not isinstance(toxicity.value, int | float)
        or isinstance(toxicity.value, bool)
        or not 0 <= toxicity.value <= 1
    ):
        ctx.findings.reject(toxicity, "toxicity is a number from 0 to 1")
        return None
    given = _attributes(args.get("attributes", Node({})), toxic, ctx)
    if toxic is None or given is None or stream.value not in ("upstream", "downstream"):
        return None
    return _spec(proxy, name, toxic, str(stream.value), float(toxicity.value), given)


def _spec(
    proxy: str,
    name: str,
    toxic: str,
    stream: str,
    toxicity: float,
    attributes: dict[str, int | None],
) -> ToxicSpec | None:
    if any(value is None for value in attributes.values()):
        return None
    return ToxicSpec(
        proxy, name, toxic, stream, toxicity, {k: v for k, v in attributes.items() if v is not None}
    )


def _attributes(node: Node, toxic: str | None, ctx: Context) -> dict[str, int | None] | None:
    if node.value is None:
        return {}
    if not node.is_mapping:
        ctx.findings.reject(node, "attributes are a mapping of name to whole number")
        return None
    allowed = TOXIC_ATTRIBUTES.get(toxic or "", frozenset())
    values: dict[str, int | None] = {}
    for key in node.names():
        if toxic is not None and key not in allowed:
            ctx.findings.reject(
                node.child(key),
                f"toxic {toxic!r} has no attribute {key!r} (it takes {', '.join(sorted(allowed))})",
            )
            values[key] = None
            continue
        values[key] = _integer(ctx.configuration.resolve(node.child(key)), ctx)
    return values


def _integer(node: Node, ctx: Context) -> int | None:
    value = node.value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        ctx.findings.reject(node, "a toxic attribute is a whole number, 0 or more")
        return None
    return value


def _string(node: Node, ctx: Context) -> str | None:
    if not isinstance(node.value, str) or not node.value:
        ctx.findings.reject(node, "a name is a non-empty string")
        return None
    return node.value


def _proxy(node: Node, ctx: Context) -> str | None:
    name = _string(node, ctx)
    if name is not None and name not in ctx.proxies:
        ctx.findings.reject(
            node,
            f"proxy {name!r} is not one of the lab's (the target profile's dependencies: "
            f"{', '.join(ctx.proxies) or 'none'})",
        )
        return None
    return name


def _process(provider: Node, ctx: Context) -> SignalProcess | None:
    path, arguments = provider.child("path"), provider.child("arguments")
    for key in provider.names():
        if key not in ("type", "path", "arguments", "timeout"):
            ctx.findings.reject(provider.child(key), "not a key of a process provider")
    args_value = ctx.configuration.resolve(arguments).value
    if isinstance(args_value, str):
        words = shlex.split(args_value)
    elif isinstance(args_value, list) and all(isinstance(a, str) for a in args_value):
        words = [str(a) for a in args_value]
    elif args_value is None:
        words = []
    else:
        ctx.findings.reject(arguments, "arguments are a string or a list of strings")
        return None
    program = PurePosixPath(str(path.value or "")).name
    if program in ("pkill", "killall"):
        parsed = _kill_words(words)
    elif program == "docker" and len(words) == 2 and words[0] in _DOCKER:
        parsed = (_DOCKER[words[0]], words[1])
    else:
        ctx.findings.reject(
            path,
            f"the command {path.value!r} {' '.join(words)!r} has no fault in the lab "
            "(it maps pkill/killall -STOP/-CONT/-KILL/-TERM NAME and docker "
            "pause|unpause|kill|stop|start NAME)",
        )
        return None
    if isinstance(parsed, str):
        ctx.findings.reject(arguments, parsed)
        return None
    action, component = parsed
    if component not in ctx.components:
        ctx.findings.reject(
            arguments,
            f"{component!r} is not a process the lab starts "
            f"({', '.join(ctx.components) or 'none'})",
        )
        return None
    return SignalProcess(component, action)


def _kill_words(words: list[str]) -> tuple[ProcessAction, str] | str:
    """``(action, name)`` of a pkill/killall command line, or why it does not map."""
    signal = "TERM"
    names: list[str] = []
    rest = iter(words)
    for word in rest:
        if word in ("-s", "--signal"):
            signal = next(rest, "")
        elif word in ("-f", "-x", "--full", "--exact", "-e"):
            continue  # how the name is matched, not what is done
        elif word.startswith("-"):
            signal = word.lstrip("-")
        else:
            names.append(word)
    action = _SIGNALS.get(signal.upper().removeprefix("SIG"))
    if action is None:
        return f"signal {signal!r} has no fault in the lab (STOP, CONT, KILL, TERM do)"
    if len(names) != 1:
        return "name exactly one process (a component the lab starts)"
    return action, names[0]


__all__ = [
    "PROXY_FUNCTIONS",
    "PROXY_MODULE",
    "TOXIC_FUNCTIONS",
    "TOXIC_MODULE",
    "Context",
    "CreateToxic",
    "DeleteToxic",
    "Event",
    "ResetAll",
    "SetProxy",
    "SignalProcess",
    "ToxicSpec",
    "action_events",
]
