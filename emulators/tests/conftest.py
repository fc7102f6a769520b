# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Connectors are tested against the emulators without Odoo: the addon's
``providers`` package is imported on its own, which also proves that it
does not import the ORM."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "account_online_synchronization"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
