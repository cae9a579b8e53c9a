"""One installer for every provider: a targets table → post-import hooks → wrap, and the exact unwrap.

A provider describes itself as data (:class:`Spec`): the SDK's import name and version gate, the methods to wrap
and which adapter translates each, the response hooks it needs, where other instrumentations of the same SDK
show themselves (:class:`Peer`, and a per-call ``marker``). :class:`Installer` does the rest, the same way for
every SDK:

- ``install()`` imports nothing of the SDK (nor wrapt, nor OpenTelemetry): it registers a post-import hook, and
  each SDK module is wrapped when the app loads it (at once if it already has);
- a method another instrumentation wrapped first is left to it (one warning names it), and our wrapper stands
  down at call time when one wraps over ours later (:class:`Watch`): one GenAI span per call, in either order;
- ``uninstall()`` restores the very function objects, for this provider only: the others, and the agent/tool
  telemetry, keep what they have.

Each Installer holds its provider's state, so the provider's entry-point instrumentor and
:func:`llmtel.instrument` drive the same one and the SDK is wrapped once either way.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FunctionType, MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from llmtel import _providers
from llmtel import config as config_module
from llmtel._imports import when_imported
from llmtel._internal import swallowed

if TYPE_CHECKING:
    from llmtel.core.invocation import Telemetry

_log = logging.getLogger("llmtel")

NOTHING: Mapping[str, Any] = MappingProxyType({})


class Target(NamedTuple):
    """One SDK method to wrap: ``module``'s ``Class.method``, translated by ``adapter`` (``"module.Class"``
    inside the provider package; named, not imported, so nothing loads before the SDK does). ``adapter`` may name
    a :class:`llmtel.core.call.Router` instead, for a method every API of the SDK goes through (botocore)."""

    module: str
    path: str
    adapter: str
    is_async: bool


class Hook(NamedTuple):
    """A plain wrapt wrapper (a function of the provider's ``calls`` module) around an SDK-internal method; a
    pass-through for calls that are not ours, so it is always put in place."""

    module: str
    path: str
    hook: str


class Peer(NamedTuple):
    """Another instrumentation of the same SDK that the warning can name precisely."""

    package: str  # the import package its wrappers are defined in
    distribution: str
    content: str  # what it records of prompts and completions by default, as a clause of the warning
    entry_point: str  # its opentelemetry-instrument entry point name


class Marker(NamedTuple):
    """A place every call goes through besides the wrapped method, where another instrumentation may sit under
    ours (OpenInference wraps the OpenAI client's ``request``): the live class ``__dict__``, the key, the SDK's own
    value (from a base class), and the name for the warning. ``NO_MARKER`` for SDKs without one."""

    mapping: Mapping[str, Any]
    key: str
    original: Any
    place: str


NO_MARKER = Marker(NOTHING, "", None, "")


@dataclass(frozen=True)
class Spec:
    """A provider, as data."""

    sdk: str  # the SDK's import name, e.g. "openai"
    title: str  # for messages, e.g. "OpenAI"
    package: str  # the provider package holding the adapter modules, e.g. "llmtel.providers.openai"
    calls: str  # its module with ``endpoint_of``, ``dispatch`` and the hook functions
    targets: tuple[Target, ...]
    hooks: tuple[Hook, ...] = ()
    peers: tuple[Peer, ...] = ()
    entry_point: str = ""  # ours, e.g. "llmtel_openai"
    version: Callable[[], str] | None = None  # the installed SDK's version (called once the SDK is loaded)
    min_version: tuple[int, ...] = ()
    markers: Callable[[bool], Marker] = field(default=lambda is_async: NO_MARKER)  # by is_async


@functools.cache
def _wrapt_proxies() -> tuple[type, ...]:
    """wrapt 2 made FunctionWrapper a separate base from ObjectProxy; any of these means "someone wrapped this"."""
    import wrapt

    names = ("ObjectProxy", "BaseObjectProxy", "FunctionWrapper")
    return tuple(t for t in (getattr(wrapt, n, None) for n in names) if isinstance(t, type))


def resolve(module: Any, path: str) -> tuple[Any, str, Any] | None:
    """(owner class, attribute name, current attribute) in a loaded module, or None when the SDK has no such method."""
    owner = module
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent, None)
        if owner is None:
            return None
    current = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    if current is None:
        return None
    return owner, name, current


def _module_of(obj: Any) -> str:
    """The module whose code ``obj`` (a wrapper function, a bound method, a callable object) is."""
    if obj is None:
        return "?"
    func = getattr(obj, "__func__", obj)
    # Not __module__ for a function: functools.wraps copies the wrapped SDK function's; its globals are its own.
    name = func.__globals__.get("__name__") if isinstance(func, FunctionType) else type(obj).__module__
    return name if isinstance(name, str) else "?"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def origin(current: Any, sdk: str) -> str | None:
    """Which module's code sits where the SDK keeps a method (``current``, read from the class ``__dict__``):
    None for the SDK's own function (or nothing), else the module that defined the wrapper, ours included."""
    if current is None:
        return None
    if isinstance(current, _wrapt_proxies()):
        return _module_of(getattr(current, "_self_wrapper", None))
    if isinstance(current, FunctionType):
        module = _module_of(current)  # a plain function put there, e.g. one made with functools.wraps
        return None if _within(module, sdk) else module
    return "?"  # a callable object of unknown kind: not the SDK's


def _ours(found: str | None) -> bool:
    return found is not None and _within(found, "llmtel")


class Watch:
    """Where another instrumentation of the same call shows itself, looked at by our wrapper on every call.

    ``methods`` is the live ``__dict__`` of the class whose method ``name`` we wrapped; ``markers[key]`` is the
    provider's :class:`Marker` place (absent while the SDK's own ``original`` from a base class serves). A wrapper
    another package put over ours replaces ``methods[name]`` (openai-v2 and OpenLLMetry wrap the resource
    methods); one put under ours on a marker (OpenInference on the client's ``request``) puts something in
    ``markers``. Either way that package's span is the call's and ours would be a second one, so ours stands
    down. The quick check (:mod:`llmtel.core.call`) is two dict look-ups per call: no import, no walk of the
    wrapper chain; :meth:`recheck` runs only when it fails.
    """

    __slots__ = ("key", "markers", "methods", "mine", "name", "notice", "original", "owner")

    def __init__(self, owner: type, name: str, marker: Marker, notice: Callable[[Watch], None]) -> None:
        self.owner, self.methods, self.name = owner, owner.__dict__, name
        self.markers, self.key, self.original = marker.mapping, marker.key, marker.original
        self.notice: Callable[[Watch], None] | None = notice  # told once, the first time we stand down
        self.mine: object = None  # our wrapper once it is in place; None again (disarmed) after uninstall()

    def marked(self) -> bool:
        """Something other than the SDK's own sits on the marker place."""
        return self.markers.get(self.key, self.original) is not self.original

    def recheck(self) -> bool:
        """The quick check failed: True if the call is ours after all; else stand down (telling, the first time)."""
        mine = self.mine
        current = self.methods.get(self.name)
        if mine is not None and current is not mine and getattr(current, "_self_parent", None) is mine:
            # opentelemetry's unwrap() (which the peers' uninstrument() uses) reads the method through the class,
            # so over ours it puts back a wrapt *bound* wrapper of ours: the same wrapper. Ours goes back in place.
            setattr(self.owner, self.name, mine)
            current = mine
        if mine is not None and current is mine and not self.marked():
            return True
        notice, self.notice = self.notice, None
        if notice is not None:
            try:
                notice(self)
            except Exception:
                swallowed("reporting another instrumentation")
        return False

    def disarm(self) -> None:
        """Stand down for good, silently: our wrapper may stay in the chain under another package's."""
        self.mine = None
        self.notice = None


class _Item(NamedTuple):
    path: str
    adapter: Any  # the adapter instance, or None for a hook
    is_async: bool
    hook: Any  # the hook function, for a hook


class _Plan(NamedTuple):
    telemetry: Telemetry
    calls: Any  # the provider's calls module
    modules: dict[str, list[_Item]]  # module → what to wrap in it


_INSTALLERS: list[Installer] = []  # every provider's, to know when the last one is uninstalled


class Installer:
    """One provider's installation state and its install/uninstall (see the module docstring)."""

    def __init__(self, spec: Spec) -> None:
        _INSTALLERS.append(self)
        self.spec = spec
        self.generation = 0  # bumped by install() and uninstall(): hooks of an earlier generation do nothing
        self.installed = False
        self.warned = False  # the version warning
        self.reported: set[str] = set()  # the other instrumentations warned about
        self.providers: dict[str, Any] = {}
        self.config: config_module.Config | None = None
        self.plan: _Plan | None = None  # built on first use
        # (class, attribute, our wrapper there, its watch or None for a hook)
        self.wrapped: list[tuple[Any, str, Any, Watch | None]] = []

    def is_installed(self) -> bool:
        return self.installed

    # -- install / uninstall ------------------------------------------------------------------------------------

    def install(
        self,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        config: config_module.Config | None = None,
    ) -> None:
        """Wrap the SDK (now for its loaded modules, on import for the others). No-op when installed."""
        if self.installed:
            return
        self.installed = True
        self.generation += 1
        self.warned = False
        self.reported = set()
        self.wrapped = []
        self.plan = None
        self.config = config or config_module.shared()
        self.providers = {
            "tracer_provider": tracer_provider,
            "meter_provider": meter_provider,
            "logger_provider": logger_provider,
        }
        # llmtel.agent()/tool() spans go where the LLM call spans go.
        _providers.configure(config=self.config, **self.providers)
        when_imported(self.spec.sdk, functools.partial(self._on_sdk, self.generation))

    def uninstall(self) -> None:
        """Restore every wrapped SDK method exactly (the very function objects). No-op when not installed."""
        if not self.installed:
            return
        self.installed = False
        self.generation += 1  # hooks still waiting for their module will do nothing
        self.plan = None
        if not any(other.installed for other in _INSTALLERS):
            _providers.configure()  # the agent/tool telemetry goes back to the global providers with the last one
        wrapped = self.wrapped
        while wrapped:
            owner, name, mine, watch = wrapped.pop()
            if watch is not None:
                watch.disarm()
            current, original = owner.__dict__.get(name), mine.__wrapped__
            # A bound wrapper whose parent is ours is ours too: what opentelemetry's unwrap() leaves when it takes
            # a wrapper off ours (see Watch.recheck).
            if current is mine or getattr(current, "_self_parent", None) is mine:
                setattr(owner, name, original)
            # Else another instrumentation wrapped over ours since: taking ours out of its chain would mean
            # rewriting its wrapper, so ours stays there, disarmed (a pass-through). If that one's own
            # uninstrument later puts ours back as the method, the next install() takes it out (_install_module).

    # -- wrapping, module by module -----------------------------------------------------------------------------

    def _on_sdk(self, generation: int, sdk: Any) -> None:
        """The app imported the SDK (or had): wrap its loaded modules now, the lazily loaded ones when they load."""
        if generation != self.generation:
            return  # registered by an earlier install(), uninstalled since
        import wrapt  # only now: its own imports (asyncio, importlib.metadata) are the SDK's anyway

        modules = [t.module for t in self.spec.targets] + [h.module for h in self.spec.hooks]
        for module_name in dict.fromkeys(modules):
            wrapt.register_post_import_hook(functools.partial(self._install_module, generation), module_name)

    def _plan(self) -> _Plan:
        """What to wrap, module by module; built (and the translations imported) once per install."""
        if self.plan is not None:
            return self.plan
        from llmtel.core.invocation import Telemetry

        spec = self.spec
        assert self.config is not None
        calls = importlib.import_module(spec.calls)
        modules: dict[str, list[_Item]] = {}
        adapters: dict[str, Any] = {}
        for target in spec.targets:
            adapter = adapters.get(target.adapter)
            if adapter is None:
                module, _, cls = target.adapter.partition(".")
                adapter = getattr(importlib.import_module(f"{spec.package}.{module}"), cls)()
                adapters[target.adapter] = adapter
            modules.setdefault(target.module, []).append(_Item(target.path, adapter, target.is_async, None))
        for hook in spec.hooks:
            modules.setdefault(hook.module, []).append(_Item(hook.path, None, False, getattr(calls, hook.hook)))
        self.plan = _Plan(Telemetry(self.config, **self.providers), calls, modules)
        return self.plan

    def _version_ok(self) -> bool:
        """The SDK is one we support."""
        spec = self.spec
        if spec.version is None or not spec.min_version:
            return True
        try:
            version = spec.version()
            found = tuple(int(part) for part in str(version).split(".")[: len(spec.min_version)])
        except Exception:
            return True  # a development build, or a layout we do not know: try
        if found >= spec.min_version:
            return True
        if not self.warned:
            self.warned = True
            needed = ".".join(str(n) for n in spec.min_version)
            _log.warning(
                "llmtel: %s %s is older than %s, which llmtel needs; not instrumenting it", spec.sdk, version, needed
            )
        return False

    def _install_module(self, generation: int, module: Any) -> None:
        """Wrap one loaded SDK module's methods (a post-import hook: it must never raise into the import)."""
        try:
            if generation != self.generation or not self._version_ok():
                return  # registered by an earlier install(), uninstalled since; or an SDK we do not support
            plan = self._plan()
            items = plan.modules.get(module.__name__, [])
            if items:
                self._wrap_items(plan, module, items)
        except Exception:
            swallowed(f"instrumenting {getattr(module, '__name__', module)}")

    def _wrap_items(self, plan: _Plan, module: Any, items: list[_Item]) -> None:
        import wrapt

        from llmtel.core import call

        sdk = self.spec.sdk
        for item in items:
            found = resolve(module, item.path)
            if found is None:
                continue  # a method this SDK version does not have
            owner, name, current = found
            came = origin(current, sdk)
            if _ours(came):
                # Ours, left disarmed under another instrumentation's wrapper by an earlier uninstall() and put
                # back as the method by that one's uninstrument: take it out before wrapping anew.
                setattr(owner, name, current.__wrapped__)
                came = origin(current.__wrapped__, sdk)
            if item.adapter is None:
                self.wrapped.append((owner, name, wrapt.wrap_function_wrapper(owner, name, item.hook), None))
                continue
            place = f"{module.__name__}.{item.path}"
            marker = self.spec.markers(item.is_async)
            if came is None and marker.key:
                under = origin(marker.mapping.get(marker.key), sdk)
                if under is not None:
                    came, place = under, marker.place  # under every method, e.g. OpenInference
            if came is not None:
                # Another instrumentation came first: its wrapper stays alone on this method, ours is not added.
                self._report(came, place, after_us=False)
                continue
            watch = Watch(owner, name, marker, functools.partial(self._noticed, place, marker.place))
            make: Callable[..., Any] = call.async_wrapper if item.is_async else call.sync_wrapper
            if isinstance(item.adapter, call.Router):
                make = call.routed_wrapper  # one method for many APIs: the adapter is chosen per call
            wrapper = make(plan.telemetry, item.adapter, watch, plan.calls.endpoint_of, plan.calls.dispatch)
            watch.mine = wrapt.wrap_function_wrapper(owner, name, wrapper)
            self.wrapped.append((owner, name, watch.mine, watch))

    # -- another instrumentation of the same SDK ----------------------------------------------------------------

    def _noticed(self, place: str, marker_place: str, watch: Watch) -> None:
        """One of our wrappers stood down at call time: another instrumentation came after us (see Watch)."""
        sdk = self.spec.sdk
        if watch.marked():
            self._report(origin(watch.markers[watch.key], sdk) or "?", marker_place, after_us=True)
        else:
            self._report(origin(watch.methods.get(watch.name), sdk) or "?", place, after_us=True)

    def _report(self, came: str, place: str, *, after_us: bool) -> None:
        """Warn, once per other instrumentation, that its spans are kept and ours are not made for its calls."""
        spec = self.spec
        peer = next((p for p in spec.peers if _within(came, p.package)), None)
        if peer is not None:
            name, content = peer.distribution, peer.content
            switch = (
                f"uninstall {peer.distribution.partition(' ')[0]} or disable it (under opentelemetry-instrument: "
                f"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS={peer.entry_point}, its entry point)"
            )
        else:
            name = f"another instrumentation (module {came})"
            content, switch = "check what that one records by default", "disable that one"
        if name in self.reported:
            return
        self.reported.add(name)
        # Said without "before"/"after" llmtel.instrument(): the SDK's modules load lazily, so a package
        # instrumented after llmtel can still be found when llmtel wraps a module that loads later.
        how = "over llmtel's wrapper, found at call time" if after_us else "already when llmtel came to wrap it"
        _log.warning(
            "llmtel: %s also instruments the %s SDK (it wrapped %s, %s). One GenAI span per call: for every "
            "call %s instruments, its span is kept and llmtel makes none; llmtel goes on instrumenting the %s "
            "calls it does not. llmtel records no prompt or completion content by default; %s. To keep llmtel's "
            "spans instead, %s.",
            name,
            spec.title,
            place,
            how,
            name,
            spec.title,
            content,
            switch,
        )


def class_marker(module: str, cls: str, key: str) -> Marker:
    """A :class:`Marker` on a class attribute that the SDK defines on a base class (``module.cls.key``)."""
    owner = getattr(sys.modules.get(module), cls, None)
    if not isinstance(owner, type):
        return NO_MARKER
    return Marker(vars(owner), key, getattr(owner, key, None), f"{module.partition('.')[0]}.{cls}.{key}")


def lazy_instrumentor(package: str, name: str) -> Callable[[str], Any]:
    """A provider package's module ``__getattr__`` giving its entry-point class ``name`` (kept in
    ``package.instrumentor``) on first use: the class loads ``opentelemetry.instrumentation``, which
    :func:`llmtel.instrument` does not need (start-up cost, bench/)."""

    def __getattr__(attribute: str) -> Any:
        if attribute == name:
            return getattr(importlib.import_module(f"{package}.instrumentor"), name)
        raise AttributeError(f"module {package!r} has no attribute {attribute!r}")

    return __getattr__
