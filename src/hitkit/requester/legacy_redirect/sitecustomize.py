"""`hitkit exec`'s half inside the child: Python imports this at start-up because `hitkit exec` puts this
directory first on PYTHONPATH (the same holds for the child's own Python children).

It patches `botocore.session.Session.create_client`, the one method that `boto3.client(...)`,
`boto3.Session().client(...)` and `botocore.session.get_session().create_client(...)` all go through, so that
a client for service `mturk` whose endpoint_url is Amazon's (production or sandbox, http or https, with or
without a trailing slash) or is not given is created with endpoint_url = $HITKIT_EXEC_ENDPOINT_URL and, unless
HITKIT_EXEC_KEEP_CREDENTIALS=1, with the keys $HITKIT_EXEC_ACCESS_KEY_ID / $HITKIT_EXEC_SECRET_ACCESS_KEY (legacy
scripts hard-code AWS keys that mean nothing to hitkit). Clients for other services, and MTurk clients aimed
at any other URL, are left alone. The script file is never edited.

botocore is patched when it is first imported (an import hook removes itself after that), so a process that
never uses boto3 pays nothing. Then any sitecustomize the user already had on the path is imported, as if
this one were not there. Standard library only, and nothing here may break the user's program: on any
internal error the program runs unredirected, with a warning.
"""

import os
import sys

_ENV_URL = "HITKIT_EXEC_ENDPOINT_URL"
_AMAZON_HOSTS = ("mturk-requester.us-east-1.amazonaws.com", "mturk-requester-sandbox.us-east-1.amazonaws.com")
_DEFAULT_ENDPOINT = "https://mturk-requester.us-east-1.amazonaws.com"
_announced = False


def _is_amazon(url):
    """True for MTurk's production or sandbox URL: http(s), default port, no path beyond '/'."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError:
        return False
    return (parts.scheme.lower() in ("http", "https") and (parts.hostname or "").lower() in _AMAZON_HOSTS
            and port in (None, 80, 443) and parts.path in ("", "/") and not parts.query)


def _redirect(session, bound):
    """Rewrite the create_client arguments of an MTurk client in place."""
    global _announced
    target = os.environ.get(_ENV_URL)
    if not target:
        return
    args = bound.arguments
    original = args.get("endpoint_url")
    if original is not None and not _is_amazon(original):
        return
    args["endpoint_url"] = target
    if os.environ.get("HITKIT_EXEC_KEEP_CREDENTIALS") != "1" and os.environ.get("HITKIT_EXEC_ACCESS_KEY_ID"):
        args["aws_access_key_id"] = os.environ["HITKIT_EXEC_ACCESS_KEY_ID"]
        args["aws_secret_access_key"] = os.environ.get("HITKIT_EXEC_SECRET_ACCESS_KEY")
        args["aws_session_token"] = os.environ.get("HITKIT_EXEC_SESSION_TOKEN") or None
        if "aws_account_id" in args:
            args["aws_account_id"] = None
    if args.get("region_name") is None and not session.get_config_variable("region"):
        args["region_name"] = "us-east-1"  # MTurk's only region; scripts that relied on it being implied still work
    if not _announced:
        _announced = True
        shown = original if original is not None else f"the default endpoint ({_DEFAULT_ENDPOINT})"
        sys.stderr.write(f"hitkit exec: MTurk client for {shown} -> {target}\n")
        sys.stderr.flush()


def _patch(module):
    """Wrap module.Session.create_client (module is botocore.session)."""
    import functools
    import inspect

    cls = getattr(module, "Session", None)
    original = getattr(cls, "create_client", None)
    if original is None or getattr(original, "_hitkit_exec", False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def create_client(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)  # let botocore report the bad call
        if bound.arguments.get("service_name") == "mturk":
            try:
                _redirect(self, bound)
            except Exception as exc:  # noqa: BLE001 - never break the program over the redirect itself
                sys.stderr.write(f"hitkit exec: could not redirect an MTurk client ({type(exc).__name__}: {exc})\n")
        return original(*bound.args, **bound.kwargs)

    create_client._hitkit_exec = True
    cls.create_client = create_client


class _PatchingLoader:
    """Runs the real loader, then patches the module it made."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            _patch(module)
        except Exception as exc:  # noqa: BLE001 - the program still runs, unredirected
            sys.stderr.write(f"hitkit exec: could not patch botocore ({type(exc).__name__}: {exc})\n")

    def __getattr__(self, name):  # get_source, get_filename, is_package, ...
        return getattr(self._loader, name)


class _BotocoreHook:
    """A meta path finder that only answers for botocore.session, by asking the finders after it."""

    def find_spec(self, name, path=None, target=None):
        if name != "botocore.session":
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def _same_dir(entry, here):
    try:
        return os.path.realpath(entry or os.getcwd()) == here
    except (OSError, ValueError):
        return False


def _chain_user_sitecustomize():
    """Import the next sitecustomize on sys.path (the one this file shadows), as site.py would have."""
    here = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
    ours = sys.modules.get("sitecustomize")
    removed = [(i, entry) for i, entry in enumerate(sys.path) if _same_dir(entry, here)]
    for i, _ in reversed(removed):
        del sys.path[i]
    sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401  (the user's own, if any)
    except ImportError as exc:
        if exc.name != "sitecustomize":
            sys.stderr.write(f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{type(exc).__name__}: {exc}\n")
    except Exception as exc:  # noqa: BLE001 - what site.py does with a failing sitecustomize
        sys.stderr.write(f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{type(exc).__name__}: {exc}\n")
    finally:
        if "sitecustomize" not in sys.modules and ours is not None:
            sys.modules["sitecustomize"] = ours
        for i, entry in removed:
            sys.path.insert(i, entry)


def _install():
    if not os.environ.get(_ENV_URL):
        return
    session_module = sys.modules.get("botocore.session")
    if session_module is not None:
        _patch(session_module)
    else:
        sys.meta_path.insert(0, _BotocoreHook())


try:
    _install()
except Exception as _exc:  # noqa: BLE001 - the program still runs, unredirected
    sys.stderr.write(f"hitkit exec: could not install the MTurk redirect ({type(_exc).__name__}: {_exc})\n")

_chain_user_sitecustomize()
if "botocore.session" in sys.modules:  # the user's sitecustomize imported botocore before our hook saw it
    try:
        _patch(sys.modules["botocore.session"])
    except Exception as _exc:  # noqa: BLE001 - the program still runs, unredirected
        sys.stderr.write(f"hitkit exec: could not patch botocore ({type(_exc).__name__}: {_exc})\n")
