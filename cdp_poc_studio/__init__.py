"""CDP PoC Studio: prove a Sitecore CDP integration end to end, on a laptop."""

__version__ = "0.1.0"
