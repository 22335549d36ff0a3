"""cnnlab: the helper package behind the cnnlab course notebooks.

Import what you need from its modules, e.g. ``from cnnlab.runtime import get_device``.
"""

__version__ = "0.1.0"
