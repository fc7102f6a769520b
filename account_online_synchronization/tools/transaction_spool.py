# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The transactions of one fetch, kept in a temporary PostgreSQL table as
the bank's pages come, and read back in booking order a batch at a time.

A bank sends its pages in its own order, and Odoo numbers the moves of a
journal in date order: the whole fetch must be seen before the first line
is made. Kept in PostgreSQL, it costs the Python process a page, not the
fetch. The table lives as long as the database session, across the commits
of a synchronization that commits its batches; each fetch starts it again.
"""
from decimal import Decimal

from odoo.tools import SQL

TABLE = SQL.identifier("online_sync_transaction_spool")
COLUMNS = ("seq", "identifier", "generated_key", "date", "amount", "label", "partner_name",
           "partner_account_number", "partner_information", "foreign_currency", "foreign_amount")
AMOUNT_COLUMNS = frozenset({"amount", "foreign_amount"})


class TransactionSpool:
    table = TABLE

    def __init__(self, cr):
        self.cr = cr
        self.count = 0
        self.created = False  # made with the first rows: a fetch with nothing costs no query

    def add(self, rows):
        """Keep ``rows``: tuples of the ``COLUMNS`` after ``seq``, in the
        bank's order. ``identifier`` None: ``generated_key`` names it."""
        if not rows:
            return
        values = [(self.count + index, *row) for index, row in enumerate(rows, 1)]
        insert = SQL("INSERT INTO %s (%s) VALUES %s", TABLE,
                     SQL(", ").join(map(SQL.identifier, COLUMNS)),
                     SQL(", ").join(SQL("%s", value) for value in values))
        if not self.created:
            # Left by a synchronization of this session that failed: made again.
            insert = SQL("""
                DROP TABLE IF EXISTS %s;
                CREATE TEMPORARY TABLE %s (
                    seq integer PRIMARY KEY,
                    identifier varchar,
                    generated_key varchar,
                    date date NOT NULL,
                    amount numeric NOT NULL,
                    label varchar,
                    partner_name varchar,
                    partner_account_number varchar,
                    partner_information varchar,
                    foreign_currency varchar,
                    foreign_amount numeric,
                    recurs boolean NOT NULL DEFAULT FALSE,
                    import_identifier varchar
                );
                %s
            """, TABLE, TABLE, insert)
            self.created = True
        self.cr.execute(insert)
        self.count += len(rows)

    def clear(self):
        if self.created:
            self.cr.execute(SQL("TRUNCATE %s", TABLE))
        self.count = 0

    def seal(self):
        """Everything is in: name the transactions the bank did not name
        (alike ones numbered in booking order, so that the same days fetched
        again give the same names), mark the identifiers that come more than
        once (``recurs``) and index the booking order."""
        if not self.count:
            return
        self.cr.execute(SQL("""
            UPDATE %(table)s spool
               SET identifier = 'generated-' || left(encode(sha256(convert_to(
                       spool.generated_key || '|' || numbered.rank, 'UTF8')), 'hex'), 32)
              FROM (SELECT seq, row_number() OVER (PARTITION BY generated_key ORDER BY date, seq) AS rank
                      FROM %(table)s WHERE identifier IS NULL) numbered
             WHERE spool.seq = numbered.seq;
            UPDATE %(table)s SET recurs = TRUE
             WHERE identifier IN (SELECT identifier FROM %(table)s GROUP BY identifier HAVING count(*) > 1);
            CREATE INDEX ON %(table)s (date, seq);
            ANALYZE %(table)s
        """, table=TABLE))

    def batches(self, size, columns, to_import=False):
        """Lists of (seq, *columns) in booking order, ``size`` at a time;
        ``to_import``: only the transactions ``mark_to_import`` named."""
        if not self.count:
            return
        # Odoo's cursor reads numeric as float: amounts come back as text, made exact again.
        exact = [index for index, column in enumerate(columns, 1) if column in AMOUNT_COLUMNS]
        selected = SQL(", ").join(
            SQL("%s::text", SQL.identifier(column)) if column in AMOUNT_COLUMNS else SQL.identifier(column)
            for column in columns
        )
        last = None
        while True:
            self.cr.execute(SQL(
                "SELECT seq, %s FROM %s WHERE %s AND %s ORDER BY date, seq LIMIT %s",
                selected, TABLE,
                SQL("import_identifier IS NOT NULL") if to_import else SQL("TRUE"),
                SQL("(date, seq) > (%s, %s)", *last) if last else SQL("TRUE"),
                size,
            ))
            rows = self.cr.fetchall()
            if exact:
                rows = [_exact(row, exact) for row in rows]
            if rows:
                yield rows
            if len(rows) < size:
                return
            last = (rows[-1][columns.index("date") + 1], rows[-1][0])

    def mark_to_import(self, identifiers):
        """``identifiers``: {seq: the identifier to import the transaction under}."""
        if not identifiers:
            return
        self.cr.execute(SQL(
            "UPDATE %s spool SET import_identifier = chosen.identifier FROM (VALUES %s) chosen (seq, identifier)"
            " WHERE spool.seq = chosen.seq",
            TABLE, SQL(", ").join(SQL("%s", pair) for pair in identifiers.items()),
        ))

    def drop(self):
        if self.created:
            self.cr.execute(SQL("DROP TABLE IF EXISTS %s", TABLE))
            self.created = False


def _exact(row, indexes):
    row = list(row)
    for index in indexes:
        if row[index] is not None:
            row[index] = Decimal(row[index])
    return tuple(row)
