"""The patrons' account pages: register, activate, log in and out, see, export and
delete the account, reset the password, and the demo's mail outbox.

The pages call the same ``Accounts`` service as the JSON API and render its refusals
next to the form fields instead of as problem+json. They work without JavaScript.

CSRF: every POST form is a double submit. A random token lives in the ``ill_csrf``
cookie (HttpOnly, SameSite=Strict) and in a hidden ``csrf`` field of each form; a POST
whose field does not equal its cookie is refused with 403 before the view runs. A
cross-site page cannot read the cookie to copy it into the field, and with
SameSite=Strict the browser does not even send the cookie on a cross-site POST. The
token is not tied to the session, so the login form is protected too; it is replaced
at login and logout so a token planted before login does not outlive it.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import BodyPartReader, web
from multidict import MultiDictProxy

from broker.domain.accounts import Account, Role
from broker.domain.consortium import Library
from broker.domain.errors import (
    Conflict,
    EmailTaken,
    InvalidToken,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from broker.services.mail import OutboxMailer
from broker.services.translations import N_
from broker.settings import Settings
from broker.web import appkeys, languages
from broker.web.auth import COOKIE, current_account, set_session_cookie
from broker.web.languages import _, translated
from broker.web.metrics import Handler

CSRF_COOKIE = "ill_csrf"
CSRF_FIELD = "csrf"
# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet. Anything else in
# the cookie is ignored (and replaced), which also keeps compare_digest on ASCII.
_CSRF_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
OUTBOX_LIMIT = 50
_LINK = re.compile(r"(https?://[^\s<>\"']+)")

# Pages may be framed by nobody, post forms only to the broker, and load nothing from
# elsewhere; the only inline code is base.html's stylesheet. No referrer, because
# activation and reset pages carry their token in the address.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

REGISTRATION_LABELS = {
    "email": N_("E-mail address (your username)"),
    "given_name": N_("Given name"),
    "surname": N_("Surname"),
    "birth_date": N_("Date of birth"),
    "category": N_("Membership category"),
    "street": N_("Street and number"),
    "postcode": N_("Postcode"),
    "city": N_("City"),
    "country": N_("Country"),
    "address": N_("Address"),
    "home_library": N_("Home library"),
    "card_number": N_("Library card number"),
    "password": N_("Password"),
    "consent": N_("Terms of use"),
}
# The service's words for an empty field are written for API clients ("one of: ...",
# "(true)"); a person filling in the form is told what to do instead.
_BLANK_FIELD = {
    "home_library": N_("required: choose your home library"),
    "category": N_("required: choose your membership category"),
    "card_number": N_("required: the number on your library card"),
    "consent": N_("tick the box to accept the terms of use"),
}
_ADDRESS_PARTS = ("street", "postcode", "city", "country")
# Typed values the registration form shows again after a refusal; never the password.
_KEPT = ("email", "given_name", "surname", "birth_date", "category", *_ADDRESS_PARTS,
         "home_library", "card_number")


@dataclass(slots=True)
class PageState:
    """What every page's layout needs: the consortium's name, who is logged in, the
    form token, and whether this is the demo (mails kept in the outbox, not sent)."""

    site: str
    account: Account | None
    csrf: str
    csrf_is_new: bool
    demo: bool
    language: str = "en"
    path: str = "/"


_STATE: web.RequestKey[PageState] = web.RequestKey("page_state")
# The layout reads the state through a template global: pages rendered by other
# modules (the library list) get the same navigation without passing it along.
_PAGE: ContextVar[PageState | None] = ContextVar("page_state", default=None)

FormView = Callable[[web.Request, MultiDictProxy[Any]], Awaitable[web.StreamResponse]]
UploadView = Callable[[web.Request, str, AsyncIterator[bytes]], Awaitable[web.StreamResponse]]
CSRF_LENGTH = 43
UPLOAD_CHUNK = 64 * 1024


def _new_csrf() -> str:
    return secrets.token_urlsafe(32)


def _set_csrf_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=request.app[appkeys.SETTINGS].secure_cookies)


@web.middleware
async def page_state(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request its ``PageState``; on HTML answers, add the pages' security
    headers and the CSRF cookie when the browser had none."""
    # current_account reads Redis only when a session cookie came along, and keeps the
    # account on the request, so API handlers that need it do not read it twice.
    cookie = request.cookies.get(CSRF_COOKIE, "")
    fresh = _CSRF_SHAPE.fullmatch(cookie) is None
    account = await current_account(request)
    state = PageState(site=request.app[appkeys.CONSORTIUM].name, account=account,
                      csrf=_new_csrf() if fresh else cookie, csrf_is_new=fresh,
                      demo=_shows_outbox(request.app[appkeys.SETTINGS]),
                      language=languages.request_language(request, account),
                      path=request.path_qs)
    request[_STATE] = state
    reset = _PAGE.set(state)
    spoken = languages.use(state.language)
    try:
        response = await handler(request)
    finally:
        languages.reset(spoken)
        _PAGE.reset(reset)
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Language", state.language)
        response.headers.setdefault("Vary", "Accept-Language, Cookie")
    if response.content_type == "text/html":
        response.headers.update({k: v for k, v in _HEADERS.items()
                                 if k not in response.headers})
        if state.csrf_is_new and CSRF_COOKIE not in response.cookies:
            _set_csrf_cookie(request, response, state.csrf)
    return response


def render(request: web.Request, template: str, context: Mapping[str, Any],
           status: int = 200, *, private: bool = False) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    if private:
        # Personal data and live tokens stay out of shared and back-button caches.
        response.headers["Cache-Control"] = "no-store"
    return response


def message(request: web.Request, title: str, lines: list[str], status: int = 200,
            links: list[tuple[str, str]] | None = None) -> web.Response:
    return render(request, "message.html",
                  {"title": title, "lines": lines, "links": links or []}, status)


async def account_with_role(request: web.Request, role: Role, title: str,
                            why: str) -> Account | web.Response:
    """The logged-in account if it has ``role``; else the login page (nobody logged
    in) or a 403 page saying ``title`` and ``why``."""
    account = await current_account(request)
    if account is None:
        return redirect("/login")
    if account.role is not role:
        return message(request, title, [why], status=403, links=[("/", _("Start page"))])
    return account


def redirect(location: str) -> web.Response:
    # A 303 makes the browser follow with GET: reloading the next page re-posts nothing.
    return web.Response(status=303, headers={"Location": location})


def form_text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def csrf_checked(view: FormView) -> Handler:
    """``view`` with the POSTed form, if its CSRF field matches the cookie; else 403."""

    @functools.wraps(view)
    async def handler(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if not csrf_matches(request, form_text(form, CSRF_FIELD)):
            return csrf_refused(request)
        return await view(request, form)

    return handler


def csrf_checked_upload(view: UploadView) -> Handler:
    """``view`` with the name and the content (streamed, in pieces) of the file of a
    multipart form, if the form's CSRF field matches the cookie; else 403. The field
    must come before the file (forms put it first), so nothing of a forged form's file
    is read, let alone stored; the file is not held in memory."""

    @functools.wraps(view)
    async def handler(request: web.Request) -> web.StreamResponse:
        if not request.content_type.startswith("multipart/"):
            return csrf_refused(request)
        reader = await request.multipart()
        checked = False
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                break
            if part.name == CSRF_FIELD:
                sent = await part.read_chunk(CSRF_LENGTH + 1)
                checked = csrf_matches(request, sent.decode("ascii", "replace"))
            elif part.name == "file" and checked:
                return await view(request, part.filename or "copy", _pieces(part))
            else:
                break
        return csrf_refused(request)

    return handler


async def _pieces(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(UPLOAD_CHUNK):
        yield chunk


def csrf_matches(request: web.Request, sent: str) -> bool:
    """Whether a form's CSRF field ``sent`` equals the browser's cookie (for views
    that read their form themselves, such as a streamed upload)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(_CSRF_SHAPE.fullmatch(sent) and _CSRF_SHAPE.fullmatch(cookie)
                and secrets.compare_digest(sent, cookie))


def csrf_refused(request: web.Request) -> web.Response:
    return message(request, _("The form has expired"), [
        _("For your safety the broker only accepts forms it has just shown you "
          "in this browser, and this one did not match (cookies may be off, or "
          "the page was open too long)."),
        _("Nothing was changed. Go back, reload the page and send it again.")],
        status=403, links=[(request.path, _("Open the form again"))])


# -- registration ----------------------------------------------------------------


def _registration_page(request: web.Request, values: Mapping[str, str],
                       errors: Mapping[str, str], status: int = 200) -> web.Response:
    consortium = request.app[appkeys.CONSORTIUM]
    lengths = [lib.policy.password_min_length for lib in consortium.libraries.values()]
    regions: dict[str, list[Library]] = {}
    for library in sorted(consortium.libraries.values(), key=lambda lib: lib.name):
        regions.setdefault(consortium.regions[library.region].name, []).append(library)
    return render(request, "register.html", {
        "values": values, "errors": errors, "labels": translated(REGISTRATION_LABELS),
        "regions": sorted(regions.items()),
        "categories": sorted(consortium.categories.values(), key=lambda c: c.name),
        "password_min": min(lengths, default=8), "password_max": max(lengths, default=8),
    }, status)


def _registration_errors(exc: ValidationFailed, values: Mapping[str, str]) -> dict[str, str]:
    """The service's problems keyed by the form's fields, in the form's order."""
    # The service names address parts "address.city"; the form's fields are "city".
    found = {key.removeprefix("address."): text for key, text in exc.problems.items()}
    for field, wording in _BLANK_FIELD.items():
        if field in found and not values.get(field, "").strip():
            found[field] = _(wording)
    order = list(REGISTRATION_LABELS)
    return dict(sorted(found.items(),
                       key=lambda item: order.index(item[0]) if item[0] in order
                       else len(order)))


async def register_form(request: web.Request) -> web.Response:
    return _registration_page(request, {}, {})


@csrf_checked
async def register(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    values = {name: form_text(form, name) for name in (*_KEPT, "consent")}
    raw: dict[str, Any] = {name: values[name] for name in _KEPT
                           if name not in _ADDRESS_PARTS}
    raw |= {"address": {part: values[part] for part in _ADDRESS_PARTS},
            "password": form_text(form, "password"), "consent": values["consent"] == "yes"}
    try:
        account = await request.app[appkeys.ACCOUNTS].register(raw)
    except ValidationFailed as exc:
        return _registration_page(request, values, _registration_errors(exc, values), 422)
    except EmailTaken as exc:
        return _registration_page(request, values, {"email": exc.detail}, 409)
    lines = [_("We have sent a link to {email}. Open it within 24 hours to "
               "activate your account; until then you cannot log in.").format(
                 email=account.email),
             _("If the mail does not arrive, look in your spam folder. A registration "
               "that is not activated in time is deleted, and you can register again.")]
    links = [("/outbox", _("Read the mail in the demo's outbox"))] \
        if request[_STATE].demo else []
    return message(request, _("Check your e-mail"), lines, links=links)


# -- activation ------------------------------------------------------------------


def _password_hint(request: web.Request) -> str:
    # The page does not know the person's library before the token is used: give the
    # consortium's lowest minimum, and say that the home library may ask for more.
    lengths = [lib.policy.password_min_length
               for lib in request.app[appkeys.CONSORTIUM].libraries.values()]
    return _("At least {count} characters (your home library may ask for more), and "
             "not your e-mail address.").format(count=min(lengths, default=8))


def _activation_page(request: web.Request, token: str, error: str | None = None,
                     status: int = 200) -> web.Response:
    return render(request, "activate.html", {"token": token, "error": error,
                                             "hint": _password_hint(request)},
                  status, private=True)


def _reset_page(request: web.Request, token: str, error: str | None = None,
                status: int = 200) -> web.Response:
    return render(request, "reset_confirm.html", {"token": token, "error": error,
                                                  "hint": _password_hint(request)},
                  status, private=True)


def _invalid_link(request: web.Request, exc: InvalidToken, again: tuple[str, str]) \
        -> web.Response:
    return message(request, _("This link does not work"), [exc.detail], status=400,
                   links=[again])


async def activate_form(request: web.Request) -> web.Response:
    # GET only shows the form: mail scanners and link previews open links on their
    # own, and must not use up the single-use token.
    token = request.query.get("token", "")
    if not token:
        return message(request, _("This link does not work"), [
            _("The address has no activation token. Open the link from the e-mail we "
              "sent you, in full.")], status=400, links=[("/register", _("Register"))])
    return _activation_page(request, token)


@csrf_checked
async def activate(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    token = form_text(form, "token")
    try:
        await request.app[appkeys.ACCOUNTS].activate(token, form_text(form, "password") or None)
    except InvalidToken as exc:
        return _invalid_link(request, exc, ("/register", _("Register again")))
    except ValidationFailed as exc:
        return _activation_page(request, token, exc.problems.get("password", exc.detail),
                                422)
    return message(request, _("Your account is active"),
                   [_("You can now log in with your e-mail address and password.")],
                   links=[("/login", _("Log in"))])


# -- login and logout ------------------------------------------------------------


def _login_page(request: web.Request, email: str = "", errors: Mapping[str, str] | None
                = None, status: int = 200) -> web.Response:
    return render(request, "login.html", {"email": email, "errors": errors or {}}, status)


async def login_form(request: web.Request) -> web.Response:
    if request[_STATE].account is not None:
        return redirect("/account")
    return _login_page(request)


@csrf_checked
async def login(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    email = form_text(form, "email")
    try:
        account = await request.app[appkeys.ACCOUNTS].login(
            email, form_text(form, "password"), request.remote or "unknown")
    except ValidationFailed as exc:
        return _login_page(request, email, dict(exc.problems), 422)
    except (Unauthenticated, RateLimited) as exc:
        return _login_page(request, email, {"form": exc.detail}, exc.status)
    token, _api_csrf = await request.app[appkeys.SESSIONS].start(account)
    response = redirect("/account")
    set_session_cookie(response, token, request.app[appkeys.SETTINGS].secure_cookies)
    _set_csrf_cookie(request, response, _new_csrf())
    return response


async def _end_session(request: web.Request, response: web.StreamResponse) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[appkeys.SESSIONS].end(token)
    response.del_cookie(COOKIE, path="/")
    _set_csrf_cookie(request, response, _new_csrf())


@csrf_checked
async def logout(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    response = redirect("/")
    await _end_session(request, response)
    return response


# -- the account -----------------------------------------------------------------


def _account_page(request: web.Request, account: Account, error: str | None = None,
                  status: int = 200, *, unconfirmed: bool = False) -> web.Response:
    consortium = request.app[appkeys.CONSORTIUM]
    library = consortium.libraries.get(account.library or "")
    category = consortium.categories.get(account.category or "")
    return render(request, "account.html", {
        "me": account, "library": library.name if library else account.library,
        "category": category.name if category else account.category,
        "can_delete": account.role is Role.PATRON, "error": error,
        "unconfirmed": unconfirmed}, status, private=True)


async def account_page(request: web.Request) -> web.Response:
    account = request[_STATE].account
    if account is None:
        return redirect("/login")
    return _account_page(request, account)


@csrf_checked
async def delete_account(request: web.Request,
                         form: MultiDictProxy[Any]) -> web.StreamResponse:
    account = request[_STATE].account
    if account is None:
        return redirect("/login")
    if account.role is not Role.PATRON:
        return _account_page(request, account, _("Staff and coordinator accounts are "
                                                  "removed by an administrator."), 403)
    if form_text(form, "confirm") != "yes":
        return _account_page(request, account, _("Tick the box to confirm that you want "
                                                  "to delete your account."), 422,
                             unconfirmed=True)
    try:
        await request.app[appkeys.ACCOUNTS].delete(account)
    except Conflict as exc:
        return _account_page(request, account, exc.detail, exc.status)
    request[_STATE].account = None  # the layout must not greet the deleted account
    response = message(request, _("Your account is deleted"), [
        _("Your personal data is gone. Finished requests stay in the libraries' "
          "statistics without your name.")], links=[("/", _("Back to the start page"))])
    await _end_session(request, response)
    return response


# -- password reset --------------------------------------------------------------


async def reset_form(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    if token:
        return _reset_page(request, token)
    return render(request, "reset_request.html", {"email": "", "error": None})


@csrf_checked
async def request_reset(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    email = form_text(form, "email")
    try:
        await request.app[appkeys.ACCOUNTS].request_reset(email)
    except ValidationFailed as exc:
        return render(request, "reset_request.html",
                      {"email": email, "error": exc.problems.get("email", exc.detail)}, 422)
    # The same answer whether the address has an account: the page must not tell.
    return message(request, _("Check your e-mail"), [
        _("If an account has this address, a link to choose a new password is on its way. "
          "It works once, for one hour.")],
        links=[("/outbox", _("Read the mail in the demo's outbox"))]
        if request[_STATE].demo else [])


@csrf_checked
async def confirm_reset(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    token = form_text(form, "token")
    try:
        await request.app[appkeys.ACCOUNTS].reset(token, form_text(form, "password"))
    except InvalidToken as exc:
        return _invalid_link(request, exc, ("/reset", _("Ask for a new link")))
    except ValidationFailed as exc:
        return _reset_page(request, token, exc.problems.get("password", exc.detail), 422)
    return message(request, _("Your password is changed"),
                   [_("Log in with your new password.")], links=[("/login", _("Log in"))])


# -- the language switcher -------------------------------------------------------


@csrf_checked
async def choose_language(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    """The switcher: remember the language in a cookie (and on the account of whoever
    is logged in), then back to the page it was pressed on, if that is one of ours."""
    language = form_text(form, "to")
    response = redirect(languages.local_path(form_text(form, "next")))
    if language not in languages.LANGUAGES:
        return response
    account = request[_STATE].account
    if account is not None:
        await request.app[appkeys.ACCOUNTS].choose_language(account, language)
    response.set_cookie(languages.COOKIE, language, max_age=languages.COOKIE_AGE, path="/",
                        samesite="Lax", httponly=True,
                        secure=request.app[appkeys.SETTINGS].secure_cookies)
    return response


# -- the demo's outbox -----------------------------------------------------------


def _with_links(body: str) -> list[tuple[str, bool]]:
    """``body`` as (text, is_link) pieces; only http(s) addresses become links."""
    return [(piece, index % 2 == 1) for index, piece in enumerate(_LINK.split(body))
            if piece]


async def outbox(request: web.Request) -> web.Response:
    # Only where no mail server is configured: the outbox holds everybody's links.
    if not request[_STATE].demo:
        return message(request, _("Not found"), [_("There is no such page.")], status=404,
                       links=[("/", _("Back to the start page"))])
    app = request.app
    mails = await OutboxMailer(app[appkeys.REDIS], app[appkeys.KEYS]).latest(OUTBOX_LIMIT)
    return render(request, "outbox.html", {
        "mails": [{**mail, "pieces": _with_links(mail.get("body", ""))} for mail in mails],
    }, private=True)


def _shows_outbox(settings: Settings) -> bool:
    return settings.show_outbox and settings.smtp_url is None


def setup(app: web.Application) -> None:
    """Routes for the pages, the middleware giving every page its layout state, and
    the template global that reads it; call after ``aiohttp_jinja2.setup``."""
    app.middlewares.append(page_state)
    aiohttp_jinja2.get_env(app).globals["page"] = _PAGE.get
    app.router.add_get("/register", register_form)
    app.router.add_post("/register", register)
    app.router.add_get("/activate", activate_form)
    app.router.add_post("/activate", activate)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/account", account_page)
    app.router.add_post("/account/delete", delete_account)
    app.router.add_get("/reset", reset_form)
    app.router.add_post("/reset", request_reset)
    app.router.add_post("/reset/confirm", confirm_reset)
    app.router.add_get("/outbox", outbox)
    app.router.add_post("/language", choose_language)
