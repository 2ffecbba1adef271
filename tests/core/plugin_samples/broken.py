"""A connector that fails to import."""

raise ImportError("this connector needs a package that is not installed")
