"""One-time sign-in links: Django's password-reset token scheme (an HMAC of the user's id, password hash, last
login and the time), under its own salt and a shorter lifetime. Signing in sets `last_login`, which spends the
link; a password reset (Django's own generator) is spent by the new password."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.http import base36_to_int


class SignInLinkTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "portal.tokens.SignInLinkTokenGenerator"

    def check_token(self, user, token):
        if not super().check_token(user, token):
            return False
        issued = base36_to_int(token.split("-")[0])
        return self._num_seconds(self._now()) - issued <= settings.PORTAL_LINK_TIMEOUT_SECONDS


sign_in_link_tokens = SignInLinkTokenGenerator()
