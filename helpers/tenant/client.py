"""One tenant user's view of the tenant APIs: token, session and one object per API resource."""

from __future__ import annotations

import time

from helpers.safety.secrets import Secret
from helpers.tenant.api.phones import PhonesApi
from helpers.tenant.api.sms import SmsApi
from helpers.tenant.api.teams import TeamsApi
from helpers.tenant.api.users import UsersApi
from helpers.tenant.auth import AuthenticatedSession, TokenProvider
from helpers.tenant.transport import RequestBudget, RetryPolicy, Transport


class BrightPatternClient:
    """`client_id` is the user's login ID; `client_secret` the API secret generated for that user."""

    def __init__(self, base_url: str, scope: str, client_id: str, client_secret: Secret, *,
                 ca_bundle: str | None = None, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 retry: RetryPolicy | None = None, sleep=time.sleep, budget: RequestBudget | None = None):
        self.transport = Transport(base_url, connect_timeout=connect_timeout, read_timeout=read_timeout,
                                   ca_bundle=ca_bundle, retry=retry, sleep=sleep, budget=budget)
        self.tokens = TokenProvider(self.transport, client_id, client_secret, scope)
        self.session = AuthenticatedSession(self.transport, self.tokens)
        self.sms = SmsApi(self.session)
        self.users = UsersApi(self.session)
        self.teams = TeamsApi(self.session)
        self.phones = PhonesApi(self.session)

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def __repr__(self) -> str:
        return f"BrightPatternClient({self.base_url!r}, scope={self.tokens.scope!r}, client_id={self.tokens.client_id!r})"
