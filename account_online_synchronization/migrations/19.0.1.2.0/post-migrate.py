# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""19.0.1.2.0 finds the connection an aggregator's notification is about by
its consent (``consent_identifier``, new): it is filled from the consent
each connection keeps."""


def migrate(cr, version):
    cr.execute("""
        UPDATE account_online_link
           SET consent_identifier = provider_data -> 'consent' ->> 'identifier'
         WHERE consent_identifier IS NULL AND provider_data -> 'consent' ->> 'identifier' IS NOT NULL
    """)
