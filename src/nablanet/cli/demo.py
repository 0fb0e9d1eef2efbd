"""`nablanet demo`: list the lecture notes' demonstrations, or run one with its own options."""

from __future__ import annotations

import inspect


def run(args) -> int:
    """Run the demo ``args.name`` with ``args.arguments``, or list the demos when no name is given."""
    from nablanet.demos import DEMOS

    if args.name is None:
        print(demo_list())
        print("run one with: nablanet demo NAME [--quick] [--out DIR]")
        return 0
    if args.name not in DEMOS:
        raise ValueError(f"unknown demo {args.name!r}; the demos are {', '.join(DEMOS)}")
    demo_main = DEMOS[args.name].main
    if inspect.signature(demo_main).parameters:
        status = demo_main(list(args.arguments))
    elif args.arguments:
        raise ValueError(f"the {args.name} demo takes no options, got {' '.join(args.arguments)}")
    else:
        status = demo_main()
    return 0 if status is None else int(status)


def demo_list() -> str:
    """The demos, one line each: the name and the first line of the demo module's docstring."""
    from nablanet.demos import DEMOS

    width = max(len(name) for name in DEMOS)
    lines = ["demos:"]
    for name, module in DEMOS.items():
        summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
        lines.append(f"  {name:<{width}}  {summary}")
    return "\n".join(lines)
