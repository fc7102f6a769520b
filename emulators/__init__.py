# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Local emulators of the aggregator APIs, for the tests and for integrators.
Not shipped with the addon."""
