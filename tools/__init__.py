"""Tools of the course, outside the package students import: the static site (`python -m tools.site`), lecture slides
(`python -m tools.slides`), graded assignments (`python -m tools.assignments`) and the shipped data's maintenance
(`python -m tools.data_refresh`)."""
