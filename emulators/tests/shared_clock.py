# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The clock a test and its emulator share: the test moves time on."""
import datetime as dt


class Clock:
    def __init__(self, moment: dt.datetime):
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment

    def advance(self, **delta) -> None:
        self.moment += dt.timedelta(**delta)
