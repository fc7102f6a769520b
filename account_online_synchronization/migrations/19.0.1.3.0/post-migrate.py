# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""19.0.1.3.0 gives each connection a responsible (``user_id``, who follows
it and gets the activities when a consent ends) and remembers the database
its consent was given to (``database_uuid``: a copy of the database must not
use it)."""
from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    # The responsible: who made the connection, while an active internal user.
    cr.execute("""
        UPDATE account_online_link link SET user_id = link.create_uid
          FROM res_users users
         WHERE link.user_id IS NULL AND users.id = link.create_uid AND users.id != %s
           AND users.active AND NOT users.share
     RETURNING link.id
    """, [SUPERUSER_ID])
    env = api.Environment(cr, SUPERUSER_ID, {})
    for link in env["account.online.link"].browse(row[0] for row in cr.fetchall()):
        link.message_subscribe(partner_ids=link.user_id.partner_id.ids)
    # The consents were given to this database: a copy made from now on is recognised.
    cr.execute("""
        UPDATE account_online_link
           SET database_uuid = (SELECT value FROM ir_config_parameter WHERE key = 'database.uuid')
         WHERE database_uuid IS NULL AND provider_data -> 'consent' IS NOT NULL
    """)
