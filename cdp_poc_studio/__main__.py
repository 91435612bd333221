"""`python -m cdp_poc_studio` runs the command line."""

from cdp_poc_studio.cli.main import main

if __name__ == "__main__":
    main()
