# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Plaid emulator's world, without HTTP: institutions, the bank's customer
accounts and their transactions, Items, tokens, Link tokens and their
sessions. ``emulators/plaid.py`` serves it.

A customer account is the bank's: each Item linked to its institution gives
it a new ``account_id`` (as Plaid does for a new Item), and the same
``persistent_account_id`` when it has one.

Every change to a transaction is one entry of a single change log (its
sequence number is its position). A cursor names a point of that log for one
Item, and one account when the client asks per account. Reading the changes
between two points is paged against a snapshot of the second: if the account
changes before the last page is read, the next page is refused with
TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION, as Plaid does. A transaction
touched several times between both points is reported once, in its last state.
"""
from __future__ import annotations

import copy
import datetime as dt
import secrets
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

SANDBOX_INSTITUTION_ID = "ins_109508"  # First Platypus Bank
SANDBOX_USERNAME, SANDBOX_PASSWORD = "user_good", "pass_good"
PUBLIC_TOKEN_LIFETIME = dt.timedelta(minutes=30)
LINK_TOKEN_LIFETIME = dt.timedelta(hours=4)
UPDATE_LINK_TOKEN_LIFETIME = dt.timedelta(minutes=30)
DEFAULT_DAYS_REQUESTED = 90
AUTO = object()  # "make one up", where None means "leave it out"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# A 1x1 PNG: what the API sends as ``logo`` (base64, no data: prefix).
SAMPLE_LOGO = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

# The first five are Plaid's Sandbox institutions (only ins_109508 is
# confirmed by our reference); the others are made up, with non-ASCII names.
SAMPLE_INSTITUTIONS = (
    ("ins_109508", "First Platypus Bank", ("US",)),
    ("ins_109509", "First Gingham Credit Union", ("US",)),
    ("ins_109510", "Tattersall Federal Credit Union", ("US",)),
    ("ins_109511", "Tartan Bank", ("US",)),
    ("ins_109512", "Houndstooth Bank", ("US",)),
    ("ins_emu_border", "Border Savings & Loan", ("US", "CA")),
    ("ins_emu_desjardins", "Caisse Desjardins de l'Érable", ("CA",)),
    ("ins_emu_banque_nationale", "Banque Nationale — Québec", ("CA",)),
    ("ins_emu_cooperativa", "Cooperativa Señorío Ñandú", ("US",)),
)


def plaid_id(length: int = 37) -> str:
    """An id shaped as Plaid's (item, account and transaction ids)."""
    return "".join(secrets.choice(_ALPHABET) for _i in range(length))


def token(kind: str) -> str:
    """A token shaped as Plaid's: ``<kind>-sandbox-<uuid>``."""
    return f"{kind}-sandbox-{uuid.uuid4()}"


def stamp(moment: dt.datetime) -> str:
    """A moment as Plaid writes it: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# Error bodies: statuses and error_type of every code used here follow Plaid's
# error pages. Confirmed word for word there: INVALID_ACCESS_TOKEN,
# ACCESS_NOT_GRANTED, INVALID_BODY, the 429 of ACCOUNTS_LIMIT and the code of
# TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION. Believed (from memory of the
# docs, not confirmed by our sources): the wordings of INVALID_API_KEYS,
# MISSING_FIELDS, INVALID_PUBLIC_TOKEN, ITEM_LOGIN_REQUIRED,
# USER_PERMISSION_REVOKED and the mutation's message; the codes
# INVALID_LINK_TOKEN, INVALID_INSTITUTION and INVALID_WEBHOOK_VERIFICATION_KEY_ID.
class PlaidApiError(Exception):
    """An error answer of the API, with Plaid's body (the request id is added when served)."""

    def __init__(self, status: int, error_type: str, error_code: str, error_message: str,
                 display_message: str | None = None):
        super().__init__(error_code)
        self.status = status
        self.body = {
            "error_type": error_type, "error_code": error_code, "error_code_reason": None,
            "error_message": error_message, "display_message": display_message,
            "documentation_url": f"https://plaid.com/docs/errors/#{error_code.lower()}", "suggested_action": None,
        }


class LinkRefusal(Exception):
    """What the Link page tells the user instead of going on."""


class WrongLogin(LinkRefusal):
    """Not the bank's username and password: the page asks again."""


class LinkOver(LinkRefusal):
    """The Link token expired, or its session was completed already."""


def invalid_request(code: str, message: str) -> PlaidApiError:
    return PlaidApiError(400, "INVALID_REQUEST", code, message)


def missing_fields(*names: str) -> PlaidApiError:
    return invalid_request("MISSING_FIELDS", "the following required fields are missing: " + ", ".join(names))


def invalid_field(message: str) -> PlaidApiError:
    return invalid_request("INVALID_FIELD", message)


def invalid_input(code: str, message: str) -> PlaidApiError:
    return PlaidApiError(400, "INVALID_INPUT", code, message)


ITEM_ERRORS = {
    "ITEM_LOGIN_REQUIRED": (
        "the login details of this item have changed (credentials, MFA, or required user action) and a user "
        "login is required to update this information. use Link's update mode to restore the item to a good state",
        "To keep your account connected, log in again at your bank."),
    "USER_PERMISSION_REVOKED": (
        "the holder of this account has revoked their permission for your application to access it",
        "The account holder revoked access to this account."),
    "ACCESS_NOT_GRANTED": (
        "access to this product was not granted for the account",
        "The user did not grant the necessary permissions for this product on their account."),
}


def item_error(code: str) -> dict:
    message, display = ITEM_ERRORS[code]
    return PlaidApiError(400, "ITEM_ERROR", code, message, display).body


@dataclass
class CustomerAccount:
    key: str
    institution_id: str
    name: str
    official_name: str | None
    mask: str | None
    type: str
    subtype: str | None
    iso_currency_code: str | None
    unofficial_currency_code: str | None
    balances: dict  # current, available, limit: Decimal or None
    persistent_account_id: str | None


@dataclass
class Item:
    item_id: str
    access_token: str
    institution_id: str
    created: dt.datetime
    webhook: str | None
    days_requested: int
    accounts: dict[str, str] = field(default_factory=dict)  # account_id -> customer account key
    error: dict | None = None  # an ITEM_ERROR body: API calls for data answer it
    removed: bool = False  # its access token no longer exists
    consent_expiration_time: dt.datetime | None = None

    def account_id_of(self, key: str) -> str | None:
        return next((account_id for account_id, known in self.accounts.items() if known == key), None)


@dataclass
class LinkToken:
    link_token: str
    created: dt.datetime
    expiration: dt.datetime
    request: dict  # what /link/token/create was sent (without the keys)
    institution_id: str | None
    update_item_id: str | None  # update mode: the Item whose login is renewed
    hosted_id: str | None  # where its Hosted Link page is
    completion_redirect_uri: str | None
    sessions: list[dict] = field(default_factory=list)
    completed: bool = False


@dataclass
class TransactionRecord:
    key: str  # the customer account's
    history: list[tuple[int, dict | None]] = field(default_factory=list)  # (seq, state; None: removed)

    def state(self, seq: int) -> dict | None:
        """The transaction as it was after change ``seq``; None before it existed or once removed."""
        for changed_at, snapshot in reversed(self.history):
            if changed_at <= seq:
                return snapshot
        return None

    @property
    def current(self) -> dict | None:
        return self.history[-1][1]


@dataclass(frozen=True)
class Cursor:
    """A point of the change log for one Item's stream; ``offset`` > 0 while
    paging through the changes from ``low`` to ``high``."""

    item_id: str
    account_id: str | None
    low: int
    high: int
    offset: int = 0


class PlaidBank:
    def __init__(self, now: Callable[[], dt.datetime], client_id: str, secret: str):
        self.now = now
        self.client_id, self.secret = client_id, secret
        self.institutions: dict[str, dict] = {}
        self.customer_accounts: dict[str, CustomerAccount] = {}
        self.items: dict[str, Item] = {}
        self.access_tokens: dict[str, str] = {}  # access token -> item id
        self.public_tokens: dict[str, dict] = {}  # public token -> {item_id, expires, used}
        self.link_tokens: dict[str, LinkToken] = {}
        self.hosted: dict[str, str] = {}  # Hosted Link page id -> link token
        self.transactions: dict[str, TransactionRecord] = {}
        self.log: list[tuple[str, str]] = []  # (customer account key, transaction id); seq = position + 1
        self.cursors: dict[str, Cursor] = {}
        # Set by the tests: the next pages read after the first of a listing are
        # refused as if the data had changed; each entry may change it for real.
        self.pagination_interruptions: list[Callable[[], None] | None] = []
        # "results" (item_add_results, today's shape), "on_success" (the deprecated one) or "both".
        self.link_results_style = "both"
        for institution_id, name, countries in SAMPLE_INSTITUTIONS:
            self.add_institution(institution_id, name, countries, logo=SAMPLE_LOGO)

    # -- institutions ----------------------------------------------------------

    def add_institution(self, institution_id: str, name: str, country_codes=("US",), *,
                        products=("assets", "auth", "balance", "transactions", "identity"), logo=None,
                        oauth: bool = False) -> dict:
        institution = {
            "institution_id": institution_id, "name": name, "country_codes": list(country_codes),
            "products": list(products), "routing_numbers": [], "oauth": oauth, "dtc_numbers": [],
            "url": f"https://{institution_id.replace('_', '-')}.example.com", "primary_color": "#1f4e79",
            "logo": logo,
        }
        self.institutions[institution_id] = institution
        return institution

    def add_generated_institutions(self, count: int, country: str = "US", prefix: str = "ins_gen_") -> None:
        """``count`` made-up banks, for paging through a long directory."""
        for number in range(count):
            institution_id = f"{prefix}{number:06d}"
            self.institutions[institution_id] = {
                "institution_id": institution_id, "name": f"Generated Bank {number:06d}",
                "country_codes": [country], "products": ["transactions"], "routing_numbers": [], "oauth": False,
                "dtc_numbers": [], "url": None, "primary_color": None, "logo": None,
            }

    def institution(self, institution_id) -> dict:
        institution = self.institutions.get(institution_id) if isinstance(institution_id, str) else None
        if institution is None:
            raise invalid_input("INVALID_INSTITUTION", "invalid institution_id provided")
        return institution

    # -- customer accounts ---------------------------------------------------------

    def add_account(self, name: str = "Plaid Checking", *, institution_id: str = SANDBOX_INSTITUTION_ID,
                    type: str = "depository", subtype: str | None = "checking", mask: str | None = "0000",  # noqa: A002
                    currency: str | None = "USD", unofficial_currency: str | None = None, current="110",
                    available=AUTO, limit=None, official_name: str | None = None, persistent_account_id=AUTO,
                    item_id: str | None = None) -> str:
        """A customer account at the bank, in Plaid's terms; returns its key,
        which names it in the other methods. Items created afterwards at its
        institution link it; ``item_id`` links it to that existing Item too.
        ``current`` follows Plaid's sign: for credit and loan accounts it is
        what is owed. Real Plaid sends ``persistent_account_id`` only at banks
        with tokenized account numbers; None leaves it out."""
        key = f"cust-{len(self.customer_accounts) + 1:04d}"
        current = _amount_or_none(current)
        self.customer_accounts[key] = CustomerAccount(
            key=key, institution_id=institution_id, name=name, official_name=official_name, mask=mask, type=type,
            subtype=subtype, iso_currency_code=currency, unofficial_currency_code=unofficial_currency,
            balances={"current": current, "available": current if available is AUTO else _amount_or_none(available),
                      "limit": _amount_or_none(limit)},
            persistent_account_id=plaid_id(64).lower() if persistent_account_id is AUTO else persistent_account_id,
        )
        if item_id is not None:
            self.items[item_id].accounts[plaid_id()] = key
        return key

    def customer_account(self, account: str) -> CustomerAccount:
        """By its key or by any Item's account id."""
        if account in self.customer_accounts:
            return self.customer_accounts[account]
        for item in self.items.values():
            if account in item.accounts:
                return self.customer_accounts[item.accounts[account]]
        raise KeyError(account)

    def set_balance(self, account: str, **balances) -> None:
        """``current``, ``available`` and ``limit``, as Plaid gives them (None: null)."""
        self.customer_account(account).balances.update({k: _amount_or_none(v) for k, v in balances.items()})

    def account_resource(self, item: Item, account_id: str) -> dict:
        account = self.customer_accounts[item.accounts[account_id]]
        resource = {
            "account_id": account_id,
            "balances": {**account.balances, "iso_currency_code": account.iso_currency_code,
                         "unofficial_currency_code": account.unofficial_currency_code},
            "mask": account.mask, "name": account.name, "official_name": account.official_name,
            "type": account.type, "subtype": account.subtype, "holder_category": "personal",
        }
        if account.persistent_account_id:
            resource["persistent_account_id"] = account.persistent_account_id
        return resource

    # -- transactions ------------------------------------------------------------------

    def _record(self, key: str, transaction_id: str, snapshot: dict | None) -> None:
        self.log.append((key, transaction_id))
        self.transactions.setdefault(transaction_id, TransactionRecord(key)).history.append(
            (len(self.log), copy.deepcopy(snapshot)))  # what a test does to its copy changes nothing here

    def add_transaction(self, account: str, amount, *, date=None, pending: bool = False, name: str = "Transaction",
                        transaction_id=AUTO, **fields) -> dict:
        """A transaction as the API gives it. ``amount`` follows Plaid's sign:
        positive when money leaves the account. ``fields`` are the API's own
        (``merchant_name``, ``datetime``, ``pending_transaction_id``,
        ``counterparties``...) and are sent as given."""
        customer = self.customer_account(account)
        day = date or self.now().date()
        txn = {
            "account_id": None, "account_owner": None, "amount": _amount(amount),
            "iso_currency_code": customer.iso_currency_code,
            "unofficial_currency_code": customer.unofficial_currency_code, "check_number": None,
            "counterparties": [], "date": day.isoformat() if isinstance(day, dt.date) else day, "datetime": None,
            "authorized_date": None, "authorized_datetime": None,
            "location": {key: None for key in ("address", "city", "region", "postal_code", "country", "lat", "lon",
                                               "store_number")},
            "logo_url": None, "merchant_entity_id": None, "merchant_name": None, "name": name,
            "original_description": None, "payment_channel": "other",
            "payment_meta": {key: None for key in ("by_order_of", "payee", "payer", "payment_method",
                                                   "payment_processor", "ppd_id", "reason", "reference_number")},
            "pending": pending, "pending_transaction_id": None, "personal_finance_category": None,
            "transaction_code": None, "transaction_id": plaid_id() if transaction_id is AUTO else transaction_id,
            "transaction_type": "special", "website": None,
        }
        txn.update(fields)
        self._record(customer.key, txn["transaction_id"], txn)
        return dict(txn)

    def _current(self, transaction_id: str) -> tuple[TransactionRecord, dict]:
        record = self.transactions.get(transaction_id)
        if record is None or record.current is None:
            raise KeyError(f"no transaction {transaction_id}")
        return record, record.current

    def modify_transaction(self, transaction_id: str, **fields) -> dict:
        """The bank changes a transaction it already sent (same id)."""
        record, current = self._current(transaction_id)
        if "amount" in fields:
            fields["amount"] = _amount(fields["amount"])
        changed = {**current, **fields}
        self._record(record.key, transaction_id, changed)
        return dict(changed)

    def remove_transaction(self, transaction_id: str) -> None:
        record, _current = self._current(transaction_id)
        self._record(record.key, transaction_id, None)

    def post_pending(self, transaction_id: str, *, link: bool = True, date=None, new_id=AUTO, **fields) -> dict:
        """A pending transaction posts: it is removed, and the posted one added
        under a new id, naming the pending one unless ``link`` is False."""
        record, pending = self._current(transaction_id)
        if not pending["pending"]:
            raise ValueError(f"{transaction_id} is not pending")
        self.remove_transaction(transaction_id)
        kept = {key: value for key, value in pending.items()
                if key not in ("amount", "date", "pending", "pending_transaction_id", "transaction_id")}
        kept.update(fields)
        amount = kept.pop("amount", pending["amount"])
        return self.add_transaction(
            record.key, amount, date=date or pending["date"], pending=False,
            transaction_id=new_id, pending_transaction_id=transaction_id if link else None, **kept,
        )

    # -- Items and tokens ---------------------------------------------------------------

    def create_item(self, institution_id: str, *, webhook: str | None = None,
                    days_requested: int = DEFAULT_DAYS_REQUESTED) -> Item:
        item = Item(item_id=plaid_id(), access_token=token("access"), institution_id=institution_id,
                    created=self.now(), webhook=webhook, days_requested=days_requested)
        for account in self.customer_accounts.values():
            if account.institution_id == institution_id:
                item.accounts[plaid_id()] = account.key
        self.items[item.item_id] = item
        self.access_tokens[item.access_token] = item.item_id
        return item

    def item_of(self, access_token, *, for_data: bool = True) -> Item:
        """The Item of a token; ``for_data``: a call for its data, which its error refuses."""
        item = self.items.get(self.access_tokens.get(access_token)) if isinstance(access_token, str) else None
        if item is None or item.removed:
            raise invalid_input("INVALID_ACCESS_TOKEN", "could not find matching access token")
        if for_data and item.error:
            body = item.error
            raise PlaidApiError(400, body["error_type"], body["error_code"], body["error_message"],
                                body["display_message"])
        return item

    def new_public_token(self, item: Item) -> str:
        public_token = token("public")
        self.public_tokens[public_token] = {"item_id": item.item_id, "expires": self.now() + PUBLIC_TOKEN_LIFETIME,
                                            "used": False}
        return public_token

    def exchange(self, public_token) -> Item:
        """A public token is good for one exchange, within 30 minutes."""
        grant = self.public_tokens.get(public_token) if isinstance(public_token, str) else None
        if grant is None or grant["used"]:
            raise invalid_input("INVALID_PUBLIC_TOKEN", "could not find matching public token")
        if self.now() >= grant["expires"]:
            raise invalid_input("INVALID_PUBLIC_TOKEN", "provided public token is expired. Public tokens expire "
                                                        "30 minutes after creation at which point they can no "
                                                        "longer be exchanged")
        grant["used"] = True
        return self.items[grant["item_id"]]

    def require_login(self, item_id: str) -> None:
        self.items[item_id].error = item_error("ITEM_LOGIN_REQUIRED")

    def revoke(self, item_id: str, error_code: str = "USER_PERMISSION_REVOKED") -> None:
        self.items[item_id].error = item_error(error_code)

    def remove_item(self, item_id: str) -> None:
        self.items[item_id].removed = True

    # -- Link ----------------------------------------------------------------------------

    def create_link_token(self, request: dict, update_item: Item | None, hosted: bool, lifetime: dt.timedelta
                          ) -> LinkToken:
        now = self.now()
        hosted_link = request.get("hosted_link") if isinstance(request.get("hosted_link"), dict) else {}
        link = LinkToken(
            link_token=token("link"), created=now, expiration=now + lifetime, request=request,
            institution_id=request.get("institution_id") or (update_item.institution_id if update_item else None),
            update_item_id=update_item.item_id if update_item else None,
            hosted_id=secrets.token_urlsafe(18) if hosted else None,
            completion_redirect_uri=hosted_link.get("completion_redirect_uri"),
        )
        self.link_tokens[link.link_token] = link
        if link.hosted_id:
            self.hosted[link.hosted_id] = link.link_token
        return link

    def link_by_hosted_id(self, hosted_id: str) -> LinkToken | None:
        return self.link_tokens.get(self.hosted.get(hosted_id))

    def complete_link(self, link: LinkToken, username: str, password: str) -> str | None:
        """The user logs in on the Link page: a new Item, or in update mode the
        same Item's login renewed. Returns where the user goes next (None:
        nowhere, the page says it is done)."""
        self._check_open(link)
        if (username, password) != (SANDBOX_USERNAME, SANDBOX_PASSWORD):
            raise WrongLogin("The username or password you entered is incorrect.")
        if link.update_item_id:
            item = self.items[link.update_item_id]
            if item.error and item.error["error_code"] == "ITEM_LOGIN_REQUIRED":
                item.error = None
        else:
            days = (link.request.get("transactions") or {}).get("days_requested", DEFAULT_DAYS_REQUESTED)
            item = self.create_item(link.institution_id or SANDBOX_INSTITUTION_ID,
                                    webhook=link.request.get("webhook"), days_requested=days)
        public_token = self.new_public_token(item)
        institution = self.institutions.get(item.institution_id, {})
        summary = {
            "public_token": public_token,
            "institution": {"institution_id": item.institution_id, "name": institution.get("name")},
            "accounts": [{"id": account_id, "name": self.customer_accounts[key].name,
                          "mask": self.customer_accounts[key].mask, "type": self.customer_accounts[key].type,
                          "subtype": self.customer_accounts[key].subtype, "verification_status": None}
                         for account_id, key in item.accounts.items()],
        }
        session = self._session(link)
        if self.link_results_style in ("results", "both"):
            session["results"]["item_add_results"].append(summary)
        if self.link_results_style in ("on_success", "both"):
            session["on_success"] = {"public_token": public_token, "metadata": {
                "institution": summary["institution"], "accounts": summary["accounts"],
                "link_session_id": session["link_session_id"]}}
        link.completed = True
        return link.completion_redirect_uri

    def exit_link(self, link: LinkToken) -> str | None:
        """The user leaves Link without connecting."""
        self._check_open(link)
        session = self._session(link)
        session["exit"] = {"error": None, "metadata": {"status": "requires_credentials",
                                                       "link_session_id": session["link_session_id"]}}
        return link.completion_redirect_uri

    def _check_open(self, link: LinkToken) -> None:
        if link.completed or self.now() >= link.expiration:
            raise LinkOver("This link has expired or was already used.")

    def _session(self, link: LinkToken) -> dict:
        moment = stamp(self.now())
        session = {
            "link_session_id": str(uuid.uuid4()), "started_at": moment, "finished_at": moment,
            "on_success": None, "on_exit": None, "exit": None, "events": [],
            "results": {"item_add_results": [], "cra_item_add_results": [], "cra_update_results": [],
                        "bank_income_results": [], "payroll_income_results": [], "document_income_results": None},
        }
        link.sessions.append(session)
        return session

    # -- /transactions/sync ------------------------------------------------------------

    def _scope(self, item: Item, account_id: str | None) -> set[str]:
        if account_id is None:
            return set(item.accounts.values())
        if account_id not in item.accounts:
            raise invalid_input("INVALID_ACCOUNT_ID", "one or more of the account IDs is invalid")
        return {item.accounts[account_id]}

    def _new_cursor(self, position: Cursor) -> str:
        name = secrets.token_urlsafe(24)
        self.cursors[name] = position
        return name

    def sync(self, item: Item, account_id: str | None, cursor: str | None, count: int) -> dict:
        scope = self._scope(item, account_id)
        seq = len(self.log)
        if not cursor:
            start = Cursor(item.item_id, account_id, 0, 0)
        elif cursor == "now":  # Plaid's way to skip the history (migrations from /transactions/get)
            start = Cursor(item.item_id, account_id, seq, seq)
        else:
            start = self.cursors.get(cursor)
            if start is None or (start.item_id, start.account_id) != (item.item_id, account_id):
                # The wording is believed; the refusal of another stream's cursor is Plaid's documented advice.
                raise invalid_field("cursor is invalid for this item and account_id")
        if start.offset:
            low, high = start.low, start.high
            if self.pagination_interruptions:
                change = self.pagination_interruptions.pop(0)
                if change:
                    change()
                raise self._mutation_error()
            if any(key in scope for key, _txn in self.log[high:]):
                raise self._mutation_error()
        else:
            low, high = start.high, seq
        updates = self._updates(item, scope, low, high)
        page = updates[start.offset:start.offset + count]
        has_more = start.offset + count < len(updates)
        position = (Cursor(item.item_id, account_id, low, high, start.offset + count) if has_more
                    else Cursor(item.item_id, account_id, high, high))
        return {
            "accounts": [self.account_resource(item, a) for a, key in item.accounts.items() if key in scope],
            "added": [txn for kind, txn in page if kind == "added"],
            "modified": [txn for kind, txn in page if kind == "modified"],
            "removed": [{"transaction_id": txn["transaction_id"], "account_id": txn["account_id"]}
                        for kind, txn in page if kind == "removed"],
            "next_cursor": self._new_cursor(position),
            "has_more": has_more,
            "transactions_update_status": "HISTORICAL_UPDATE_COMPLETE",
        }

    @staticmethod
    def _mutation_error() -> PlaidApiError:
        return PlaidApiError(400, "TRANSACTIONS_ERROR", "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION",
                             "Underlying transaction data changed since last page was fetched. Please restart "
                             "pagination from last update.")

    def _updates(self, item: Item, scope: set[str], low: int, high: int) -> list[tuple[str, dict]]:
        """(kind, transaction) of what changed in ``scope`` between both points,
        one entry per transaction, by its last change."""
        last_change = {}
        for position in range(low, high):
            key, transaction_id = self.log[position]
            if key in scope:
                last_change[transaction_id] = position + 1
        oldest = (item.created - dt.timedelta(days=item.days_requested)).date().isoformat()

        def visible(snapshot):  # Plaid reads only the history Link asked for
            return snapshot is not None and str(snapshot.get("date") or "") >= oldest

        updates = []
        for transaction_id, _seq in sorted(last_change.items(), key=lambda pair: pair[1]):
            record = self.transactions[transaction_id]
            before, after = record.state(low), record.state(high)
            if visible(before) == visible(after) and (not visible(after) or before == after):
                continue  # unseen and gone already, or back as it was
            kind = "modified" if visible(before) and visible(after) else "added" if visible(after) else "removed"
            updates.append((kind, {**(after or before), "account_id": item.account_id_of(record.key)}))
        return updates

    # -- sample data ---------------------------------------------------------------------

    def add_sample_data(self) -> None:
        """The Sandbox customer of First Platypus Bank, for running the emulator by hand."""
        today = self.now().date()
        checking = self.add_account("Plaid Checking", official_name="Plaid Gold Standard 0% Interest Checking",
                                    current="110", available="100")
        self.add_account("Plaid Saving", official_name="Plaid Silver Standard 0.1% Interest Saving",
                         subtype="savings", mask="1111", current="210", available="200")
        card = self.add_account("Plaid Credit Card", official_name="Plaid Diamond 12.5% APR Interest Credit Card",
                                type="credit", subtype="credit card", mask="3333", current="410", available="1590",
                                limit="2000")
        samples = [
            (checking, "12.80", 1, {"name": "Boulangerie Crème Brûlée", "merchant_name": "Crème Brûlée"}),
            (checking, "-1250.00", 3, {"name": "Müller & Söhne GmbH payroll", "payment_channel": "other"}),
            (checking, "45.00", 5, {"name": "Telefónica Móvil", "merchant_name": "Telefónica"}),
            (card, "89.40", 2, {"name": "Café Łódź", "merchant_name": "Café Łódź",
                                "datetime": stamp(self.now() - dt.timedelta(days=2))}),
        ]
        for account, amount, days_ago, fields in samples:
            self.add_transaction(account, amount, date=today - dt.timedelta(days=days_ago), **fields)
        self.add_transaction(checking, "9.99", pending=True, name="Kiosk Ærø")


def _amount(value) -> Decimal:
    """Amounts are given as text, int or Decimal: a binary float has already lost its cents."""
    if isinstance(value, float):
        raise TypeError("give amounts as strings or Decimals, not floats")
    return Decimal(value)


def _amount_or_none(value) -> Decimal | None:
    return None if value is None else _amount(value)
