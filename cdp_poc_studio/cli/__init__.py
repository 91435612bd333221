"""The command line: click commands and the terminal progress line, thin over the packages below."""
