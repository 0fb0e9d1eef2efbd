"""pytest in docs/: the Markdown pages' examples run as doctests (pyproject's --doctest-glob=*.md).

What the Sphinx build reads or writes here is no test: the configuration and its extensions import
Sphinx (the docs extra), and the built site and the generated gallery pages hold copies of scripts.
"""

collect_ignore = ["conf.py", "_ext"]
collect_ignore_glob = ["_build/*", "tutorials/*", "gallery/*", "api/*"]
