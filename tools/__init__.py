"""Build tools of the course: the static site (`python -m tools.site`) and lecture slides (`python -m tools.slides`)."""
