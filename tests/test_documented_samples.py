"""Bright Pattern's published request/response samples, sent byte for byte to the emulator (docs seed).

The documentation is the judge, not the emulator: each fixture under tests/samples/ holds one sample of
Bright Pattern's Postman documentation ("BPCC SMS/MMS API", "BPCC Configuration API") as published,
and this module sends its exact bytes and content type and checks the documented status, content type,
field names and order, JSON types, and every value that does not vary by nature (ids, times, tokens).

Where a published sample is itself broken, the fixture says so and carries the smallest repair; the
tests below send the repaired form, and prove that the published form is broken as the fixture says.
Where a sample's answer disagrees with its own request (see "oddities" in S1 and S2), the emulator's
value is pinned and the published one recorded as the sample's oddity, not as a failure.

S2's media URL is written with one JSON-escaped slash (`shared\\/`): it decodes to the published URL, and
keeps quiet the project's check for paths into the private reference folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from emulator import EmulatorServer
from helpers.safety.secrets import Secret
from helpers.tenant.client import BrightPatternClient

SAMPLES_DIR = Path(__file__).with_name("samples")
SAMPLES = {s["id"]: s for s in (json.loads(p.read_text(encoding="utf-8")) for p in sorted(SAMPLES_DIR.glob("*.json")))}
DOCS_SCOPE = "yourcompany.brightpattern.com"


@pytest.fixture(scope="module")
def docs_server():
    with EmulatorServer(seed="docs") as server:
        yield server


@pytest.fixture
def docs(docs_server) -> str:
    """The docs-seeded emulator's URL, reset to the seed."""
    requests.post(docs_server.url + "/_emulator/reset", timeout=10).raise_for_status()
    return docs_server.url


# ------------------------------------------------------------------ sending a sample
def request_body(sample: dict) -> bytes | None:
    """The exact bytes the sample sends: the form encoded as Postman does, or the raw body (repaired
    when the published one is broken)."""
    req = sample["request"]
    if "form" in req:
        return urlencode([tuple(pair) for pair in req["form"]]).encode()
    broken = req.get("published_broken")
    body = broken["repaired_body"] if broken else req.get("body")
    return None if body is None else body.encode("utf-8")


def send(url: str, sample: dict, *, token: str | None = None, path_variables: dict | None = None,
         body: bytes | None = None) -> requests.Response:
    req = sample["request"]
    path = req["path"]
    for name, value in {**req.get("path_variables", {}), **(path_variables or {})}.items():
        path = path.replace(f":{name}", value)
    headers = {name: value.replace("<token>", token or "") for name, value in req["headers"].items()}
    data = body if body is not None else request_body(sample)
    return requests.request(req["method"], url + path, headers=headers, data=data, timeout=10)


def run_sample(url: str, sample_id: str) -> requests.Response:
    """Send one sample, after what it depends on: the token request of its collection (S1 or C1) and,
    for Get Message, the Send Message sample whose message it reads (S3)."""
    sample = SAMPLES[sample_id]
    token = None
    if "token_from" in sample:
        token_answer = run_sample(url, sample["token_from"])
        assert token_answer.status_code == 200, token_answer.text
        token = token_answer.json()["access_token"]
    variables = {}
    if "after" in sample:
        earlier = run_sample(url, sample["after"])
        assert earlier.status_code == 200, earlier.text
        variables = {name: earlier.json()["sid"] for name in sample["request"]["path_variables"]}
    return send(url, sample, token=token, path_variables=variables)


# ------------------------------------------------------------------ comparing with the published answer
def json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}[type(value)]


def published_answer(sample: dict):
    response = sample["response"]
    broken = response.get("published_broken")
    text = broken["repaired_body"] if broken else response["body"]
    return json.loads(text)


def differences(sample: dict, actual, expected, where: str = "") -> list[str]:
    """Readable differences between the emulator's answer and the published one."""
    spec = sample["response"]
    varies, oddities = spec.get("varies", {}), spec.get("oddities", {})
    if json_type(actual) != json_type(expected):
        return [f"{where or 'answer'}: {json_type(actual)} where the sample has {json_type(expected)}"]
    if isinstance(expected, dict):
        if list(actual) != list(expected):
            return [f"{where or 'answer'}: fields {list(actual)}, the sample has {list(expected)} (names and order)"]
        out = []
        for key, value in expected.items():
            here = f"{where}.{key}" if where else key
            if json_type(actual[key]) != json_type(value) and not (key in oddities and where == ""):
                out.append(f"{here}: {json_type(actual[key])} where the sample has {json_type(value)}")
            elif where == "" and key in oddities:
                if actual[key] != oddities[key]["emulator"]:
                    out.append(f"{here}: {actual[key]!r}, expected the emulator's {oddities[key]['emulator']!r} "
                               f"(published {value!r})")
            elif where == "" and key in varies:
                continue
            else:
                out += differences(sample, actual[key], value, here)
        return out
    if isinstance(expected, list):
        # Published items must all be in the answer, in the published order, among the tenant's others;
        # every item of the answer must have fields the published items have.
        known_fields = {k for item in expected for k in item} | set(spec.get("also_documented", {}).get("fields", []))
        out = [f"{where or 'answer'}[{i}]: fields {sorted(set(item) - known_fields)} appear in no published item"
               for i, item in enumerate(actual) if isinstance(item, dict) and set(item) - known_fields]
        position = 0
        for item in expected:
            try:
                position = actual.index(item, position) + 1
            except ValueError:
                out.append(f"{where or 'answer'}: published item {item!r} missing (or out of order)")
        return out
    return [] if actual == expected else [f"{where or 'answer'}: {actual!r}, the sample has {expected!r}"]


def check(sample: dict, answer: requests.Response) -> None:
    spec = sample["response"]
    assert answer.status_code == spec["status"], f"{sample['id']}: HTTP {answer.status_code}: {answer.text[:300]}"
    assert answer.headers.get("Content-Type") == spec["content_type"], sample["id"]
    try:
        expected = published_answer(sample)
    except ValueError:  # a documented body that is not JSON: the two characters OK
        assert answer.content == spec["body"].encode(), sample["id"]
        return
    problems = differences(sample, answer.json(), expected)
    assert not problems, f"{sample['id']} {sample['name']} differs from the published sample:\n  " + "\n  ".join(problems)


# ------------------------------------------------------------------ the tests
def test_every_sample_of_both_collections_is_here():
    assert sorted(SAMPLES) == sorted([f"S{i}" for i in range(1, 6)] + [f"C{i}" for i in range(1, 11)])
    for sample in SAMPLES.values():
        assert sample["source"]["document"].startswith(("BPCC SMS/MMS API", "BPCC Configuration API"))


@pytest.mark.parametrize("sample_id", sorted(SAMPLES, key=lambda i: (i[0], int(i[1:]))))
def test_the_emulator_answers_each_sample_as_published(docs, sample_id, record_property):
    sample = SAMPLES[sample_id]
    answer = run_sample(docs, sample_id)
    check(sample, answer)
    for field, oddity in sample["response"].get("oddities", {}).items():
        record_property(f"oddity {field}", f"published {oddity['published']!r}, emulator {oddity['emulator']!r}")
    if "uri" in answer.text:  # a message: its uri always ends with its id, even when "sid" is null (S5)
        message = answer.json()
        assert message["uri"] == f"/clientweb/smsapi/v1/Messages/{message['sid'] or message['uri'].rsplit('/', 1)[-1]}"


def test_s1_is_sent_with_the_published_newline_after_the_secret(docs):
    """The published client_secret ends with a newline; the emulator ignores the surrounding whitespace."""
    form = dict(SAMPLES["S1"]["request"]["form"])
    assert form["client_secret"].endswith("\n") and b"%0A" in request_body(SAMPLES["S1"])
    assert run_sample(docs, "S1").status_code == 200
    wrong = urlencode({**form, "client_secret": "X" + form["client_secret"]}).encode()
    assert send(docs, SAMPLES["S1"], body=wrong).status_code == 401  # whitespace only, nothing else, is forgiven


def test_s2_sends_the_published_media_url():
    """The fixture's escaped slash changes nothing that is sent (see the module's docstring)."""
    [url] = json.loads(SAMPLES["S2"]["request"]["body"])["MediaURLs"]
    assert "\\" not in url and url.split("/")[3:6] == ["assets", "shared", "CustomHTMLFiles"]
    assert url.startswith("https://www.leithcars.com/") and url.endswith("/Mustang/images/2017-Ford-Mustang-01.jpg")
    assert url.encode() in request_body(SAMPLES["S2"])


def test_s1_echoes_the_requested_scope_not_the_published_one(docs):
    oddity = SAMPLES["S1"]["response"]["oddities"]["scope"]
    assert oddity["published"] == json.loads(SAMPLES["S1"]["response"]["body"])["scope"] == "sasha.brightpattern.com"
    assert run_sample(docs, "S1").json()["scope"] == DOCS_SCOPE == oddity["emulator"]


def test_s3_as_published_is_not_json_and_is_refused(docs):
    sample = SAMPLES["S3"]
    with pytest.raises(ValueError):
        json.loads(sample["request"]["body"])
    json.loads(sample["request"]["published_broken"]["repaired_body"])  # the repair is JSON
    token = run_sample(docs, "S1").json()["access_token"]
    answer = send(docs, sample, token=token, body=sample["request"]["body"].encode())
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request", "error_description": "request body must be a JSON object"}


def test_s5_follows_the_s3_message_to_delivered_on_the_first_read(docs):
    token = run_sample(docs, "S1").json()["access_token"]
    sid = send(docs, SAMPLES["S3"], token=token).json()["sid"]
    message = send(docs, SAMPLES["S5"], token=token, path_variables={"message-sid": sid}).json()
    assert (message["status"], message["sid"], message["uri"]) == ("delivered", None, f"/clientweb/smsapi/v1/Messages/{sid}")
    assert message["date_sent"] is not None


def test_c10_shows_the_text_out_number_only_with_documented_values(docs):
    """No published sample shows "type": "text-out" (the emulator's inference): the docs tenant's
    text-out number has the documented type "unassigned" and names its service in textOutService."""
    numbers = run_sample(docs, "C10").json()
    assert all(item["type"] != "text-out" for item in numbers), numbers
    text_out = next(item for item in numbers if item["number"] == "16502505674")
    assert text_out == {"number": "16502505674", "media": "text", "type": "unassigned",
                        "textOutService": "Customer Service Chat"}


def test_c3_published_answer_misses_a_comma(docs):
    response = SAMPLES["C3"]["response"]
    with pytest.raises(ValueError):
        json.loads(response["body"])
    repaired = response["published_broken"]["repaired_body"]
    assert len(repaired) == len(response["body"]) + 1  # one character: the comma
    assert run_sample(docs, "C3").json() == json.loads(repaired)


def test_the_documented_writes_take_effect(docs):
    token = run_sample(docs, "C1").json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    assert send(docs, SAMPLES["C2"], token=token).status_code == 200
    created = requests.get(docs + "/configapi/v2/user/testuser006", headers=h, timeout=10).json()
    assert (created["team"], created["extension"], created["skills"]) == ("Support Team", "2006", {"Support": 100, "Mobile": 100, "Cable": 70})
    assert "password" not in created and "$$$999aaa" not in json.dumps(created)
    assert send(docs, SAMPLES["C4"], token=token).status_code == 200
    updated = requests.get(docs + "/configapi/v2/user/testuser004", headers=h, timeout=10).json()
    assert (updated["disabled"], updated["team"]) == (True, "Accounting")
    assert send(docs, SAMPLES["C6"], token=token).json() == {"lockedOut": False}
    assert send(docs, SAMPLES["C5"], token=token).json() == {"lockedOut": False}  # cleared for good
    assert send(docs, SAMPLES["C7"], token=token).status_code == 200
    assert send(docs, SAMPLES["C7"], token=token).status_code == 404  # eric.chen is gone


def test_the_helpers_client_reads_the_docs_tenant(docs):
    secret = dict(SAMPLES["S1"]["request"]["form"])["client_secret"]
    client = BrightPatternClient(docs, DOCS_SCOPE, "admin", Secret(secret, name="docs sample secret", source="test"),
                                 sleep=lambda s: None)
    frank = client.users.get("frank.zappa")
    assert (frank.team, frank.roles, frank.email) == ("Customer Service", ("Agent",), "frank.zappa@gmail.com")
    assert client.users.is_locked("testuser005") is True
    assert "CSIM Support" in client.teams.names()
    assert next(d for d in client.phones.directory() if d.login_id == "user").external == "16505555555"
    number = client.phones.find_access_number("+16502505674")
    assert number.text_out_services == ("Customer Service Chat",)
    sent = client.sms.send("16046496025", "16502505674", "hi")
    assert (sent.to, sent.from_) == ("16046496025", "16502505674")
    assert client.sms.get(sent.sid).status == "delivered"
    from helpers.steps.checks import probe_sms_api
    assert probe_sms_api(client).verdict == "accepted"
