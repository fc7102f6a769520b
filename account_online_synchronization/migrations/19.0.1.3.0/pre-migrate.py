# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The responsible of a connection (``user_id``, new in 19.0.1.3.0) defaults
to the current user: made by the upgrade, the column would name the
superuser on every connection. Made empty here, it is filled after with who
made each connection (post-migrate)."""


def migrate(cr, version):
    cr.execute("ALTER TABLE account_online_link ADD COLUMN IF NOT EXISTS user_id integer")
