import sys

from .cli import main

if __name__ == "__main__":  # guarded: data-loading workers re-import the main module
    sys.exit(main())
