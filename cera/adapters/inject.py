"""Replace target modules of a model with adapter wrappers (our methods; PEFT injects its own).

Matching follows PEFT: a module matches a target when its qualified name equals the target or
ends with "." + target. All matches are checked before anything is replaced, so a failed attach
leaves the model untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from torch import nn

from cera.adapters.errors import AdapterError


def matches(name: str, targets: Iterable[str]) -> bool:
    """True when `name` is a target or ends with '.' + a target (PEFT's list semantics)."""
    return any(name == t or name.endswith("." + t) for t in targets)


def _candidates(model: nn.Module, kind: type[nn.Module]) -> list[str]:
    """Distinct last name components a user could target: Linears, or modules holding Linears."""
    names = set()
    for name, module in model.named_modules():
        if not name:
            continue
        if kind is nn.Linear:
            hit = isinstance(module, nn.Linear)
        else:
            hit = any(isinstance(c, nn.Linear) for c in module.children())
        if hit:
            names.add(name.rsplit(".", 1)[-1])
    return sorted(names)


def no_match_error(model: nn.Module, targets: list[str], kind: type[nn.Module], method: str) -> AdapterError:
    """One line naming the targets and a few names the user could have meant."""
    label = "Linear modules" if kind is nn.Linear else "modules holding Linears"
    return AdapterError(
        f"{method}: target_modules {list(targets)} match no module of the model; "
        f"its {label} include {_candidates(model, kind)[:12]}"
    )


def inject(
    model: nn.Module,
    targets: list[str],
    make_layer: Callable[[nn.Module], nn.Module],
    kind: type[nn.Module],
    method: str,
) -> list[str]:
    """Swap every module matching `targets` for `make_layer(module)`; returns the swapped names.

    Raises AdapterError when nothing matches or a match is not an instance of `kind`.
    """
    found = [(n, m) for n, m in model.named_modules() if n and matches(n, targets)]
    if not found:
        raise no_match_error(model, targets, kind, method)
    for name, module in found:
        if not isinstance(module, kind):
            raise AdapterError(
                f"{method}: target '{name}' is a {type(module).__name__}, not an nn.{kind.__name__}"
            )
    # Deepest first, so that replacing a parent never orphans a child's path.
    for name, module in sorted(found, key=lambda item: -item[0].count(".")):
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, make_layer(module))
    return [name for name, _ in found]
