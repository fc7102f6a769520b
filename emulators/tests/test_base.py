# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import urllib.error
import urllib.request

import pytest

from emulators.base import EmulatorServer, Fault, Response


class Echo(EmulatorServer):
    def __init__(self):
        super().__init__()
        self.route("GET", "/items/{item_id}/", lambda request: Response(200, {"id": request.params["item_id"],
                                                                             "q": request.query}))


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.status, answer.headers.get("Content-Type"), answer.read()


def test_routes_placeholders_and_query():
    with Echo() as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, _type, body = _get(server.url + "/items/ä1/?date_from=2026-01-01".replace("ä", "a"))
        assert status == 200
        assert json.loads(body) == {"id": "a1", "q": {"date_from": "2026-01-01"}}
        assert server.requests[-1].path == "/items/a1/"


def test_faults_are_served_once_then_the_api_answers_again():
    with Echo() as server:
        server.fail_next(Fault(status=503, body={"detail": "down"}, path="/items/"))
        server.html_error_next()
        with pytest.raises(urllib.error.HTTPError) as first:
            _get(server.url + "/items/1/")
        assert first.value.code == 503
        with pytest.raises(urllib.error.HTTPError) as second:
            _get(server.url + "/items/1/")
        assert second.value.code == 502
        assert second.value.headers.get("Content-Type") == "text/html"
        assert _get(server.url + "/items/1/")[0] == 200


def test_unknown_path_is_the_apis_404():
    with Echo() as server, pytest.raises(urllib.error.HTTPError) as error:
        _get(server.url + "/nowhere/")
    assert error.value.code == 404
