"""Signing in to the portal: password, rate limiting, one-time links by real email (aiosmtpd), password reset and
invitations, sessions that end when the password changes or the user is removed."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from django.test import Client

from billing.models import CustomerUser, SignInAttempt
from billing.services.portal_access import customer_user_remove
from tests.portal.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


def _link(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://testserver(/portal/\S+/)", body).group(1)


def test_the_owner_signs_in_with_a_password_and_sees_the_dashboard(world):
    client = Client()
    response = login(client, "Owner@Acme.test")  # the email is not case-sensitive
    assert response.status_code == 302 and response["Location"] == "/portal/"
    page = client.get("/portal/")
    assert page.status_code == 200 and "Acme" in page.content.decode()
    assert SignInAttempt.objects.filter(email="owner@acme.test", succeeded=True).count() == 1


def test_a_wrong_password_is_a_form_error_and_signs_nobody_in(world):
    client = Client()
    response = login(client, "owner@acme.test", "wrong")
    assert response.status_code == 200
    assert "Wrong email or password." in response.content.decode()
    assert client.get("/portal/").status_code == 302


def test_an_unknown_email_gets_the_same_answer(world):
    response = login(Client(), "nobody@acme.test", "whatever")
    assert response.status_code == 200 and "Wrong email or password." in response.content.decode()


def test_after_five_failures_even_the_right_password_is_refused_until_the_window_passes(world, settings):
    for _ in range(settings.PORTAL_SIGN_IN_MAX_FAILURES_PER_EMAIL):
        login(Client(), "owner@acme.test", "guess")
    refused = login(Client(), "owner@acme.test")
    assert refused.status_code == 200 and "Too many failed attempts" in refused.content.decode()
    # another user from another address is not affected
    assert login(Client(), "boss@other.test").status_code == 302
    with time_machine.travel(time.time() + settings.PORTAL_SIGN_IN_WINDOW_SECONDS + 5):
        assert login(Client(), "owner@acme.test").status_code == 302


def test_too_many_failures_from_one_address_are_refused(world, settings):
    settings.PORTAL_SIGN_IN_MAX_FAILURES_PER_IP = 3
    for n in range(3):
        login(Client(), f"someone{n}@acme.test", "guess")
    refused = login(Client(), "owner@acme.test")
    assert "Too many failed attempts" in refused.content.decode()


def test_pages_need_a_session_and_send_back_after_sign_in(world):
    client = Client()
    response = client.get("/portal/history/?kind=charges")
    assert response.status_code == 302
    assert response["Location"] == "/portal/login/?next=%2Fportal%2Fhistory%2F%3Fkind%3Dcharges"
    signed = client.post(
        "/portal/login/", {"email": "owner@acme.test", "password": PASSWORD, "next": "/portal/history/?kind=charges"}
    )
    assert signed["Location"] == "/portal/history/?kind=charges"


def test_next_never_leads_off_the_portal(world):
    response = Client().post(
        "/portal/login/", {"email": "owner@acme.test", "password": PASSWORD, "next": "https://evil.test/portal/"}
    )
    assert response["Location"] == "/portal/"


def test_a_one_time_link_arrives_by_email_and_works_once(world, smtp_server):
    client = Client()
    response = client.post("/portal/login/link/", {"email": "owner@acme.test"})
    assert response.status_code == 200 and "owner@acme.test" in response.content.decode()
    [message] = smtp_server
    assert message["To"] == "owner@acme.test"
    link = _link(message)

    # a GET (a mail scanner opening the link) does not spend it
    assert client.get(link).status_code == 200
    assert client.get(link).status_code == 200
    signed = client.post(link)
    assert signed.status_code == 302 and client.get("/portal/").status_code == 200

    # the second use is refused
    assert Client().post(link).status_code == 400


def test_a_link_expires(world, smtp_server, settings):
    Client().post("/portal/login/link/", {"email": "owner@acme.test"})
    link = _link(smtp_server[0])
    with time_machine.travel(time.time() + settings.PORTAL_LINK_TIMEOUT_SECONDS + 60):  # a timestamp: the zone stays
        assert Client().post(link).status_code == 400


def test_a_link_for_an_unknown_email_sends_nothing_and_says_the_same(world, smtp_server):
    response = Client().post("/portal/login/link/", {"email": "stranger@acme.test"})
    assert response.status_code == 200 and "stranger@acme.test" in response.content.decode()
    assert smtp_server == []


def test_a_tampered_link_is_refused(world, smtp_server):
    Client().post("/portal/login/link/", {"email": "owner@acme.test"})
    link = _link(smtp_server[0])
    assert Client().post(link[:-3] + "xx/").status_code == 400
    assert Client().post("/portal/login/link/Zm9v/abc-def/").status_code == 400


def test_a_password_reset_sets_a_new_password_and_ends_the_old_sessions(world, smtp_server):
    old_session = Client()
    login(old_session, "owner@acme.test")
    Client().post("/portal/password/reset/", {"email": "owner@acme.test"})
    link = _link(smtp_server[0])
    client = Client()
    mismatch = client.post(link, {"new_password1": "Another-pass-77", "new_password2": "Different-88"})
    assert mismatch.status_code == 200 and "didn" in mismatch.content.decode()  # Django's "fields didn't match"
    response = client.post(link, {"new_password1": "Another-pass-77", "new_password2": "Another-pass-77"})
    assert response.status_code == 302 and client.get("/portal/").status_code == 200
    assert login(Client(), "owner@acme.test", "Another-pass-77").status_code == 302
    assert login(Client(), "owner@acme.test").status_code == 200  # the old password no longer works
    assert old_session.get("/portal/").status_code == 302  # the session opened before the change has ended
    assert client.post(link, {"new_password1": "Third-pass-99", "new_password2": "Third-pass-99"}).status_code == 400


def test_a_removed_user_is_signed_out_at_once(world, owner_client, client_as):
    accountant = client_as("accountant")
    member = CustomerUser.objects.get(user__email__startswith="accountant")
    assert accountant.get("/portal/").status_code == 200
    customer_user_remove(customer_id=world.acme.pk, customer_user_id=member.pk)
    assert accountant.get("/portal/").status_code == 302


def test_sign_out_ends_the_session(owner_client):
    assert owner_client.get("/portal/logout/").status_code == 405  # only a POST (a form with its CSRF token)
    owner_client.post("/portal/logout/")
    assert owner_client.get("/portal/").status_code == 302


def test_behind_the_proxy_attempts_count_by_the_clients_address(world, settings):
    settings.BEHIND_PROXY = True
    settings.PORTAL_SIGN_IN_MAX_FAILURES_PER_IP = 2
    for n in range(2):  # one client guessing, its own X-Forwarded-For claim ignored
        Client().post(
            "/portal/login/",
            {"email": f"x{n}@acme.test", "password": "guess"},
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 203.0.113.7",
        )
    assert SignInAttempt.objects.filter(ip="203.0.113.7").count() == 2
    other = Client().post(
        "/portal/login/", {"email": "owner@acme.test", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    assert other.status_code == 302  # another client through the same proxy is not refused
    refused = Client().post(
        "/portal/login/", {"email": "owner@acme.test", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    assert "Too many failed attempts" in refused.content.decode()
