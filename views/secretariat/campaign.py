"""The secretariat's home (the campaign and how its rounds stand); the secretariat reviews and,
before the campaign starts, edits the campaign file."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.campaign import definition
from kariya.errors import DomainError
from kariya.security import P
from workflows import round as round_wf
from workflows.binding import label


@view_config(
    route_name="secretariat.home",
    renderer="secretariat/home.jinja2",
    permission=P.SECRETARIAT_HOME_VIEW,
    request_method="GET",
)
def home(request):
    return {
        "campaign": definition.latest(request.db),
        "round_label": lambda s: label(round_wf.MACHINE, s),
    }


def _form(request, text: str, errors: list[str] | None = None, message: str | None = None):
    campaign = definition.latest(request.db)
    started = bool(
        campaign and campaign.rounds and campaign.rounds[0].starts <= request.clock.now()
    )
    return {
        "campaign": campaign,
        "text": text,
        "errors": errors or [],
        "message": message,
        "started": started,
    }


@view_config(
    route_name="secretariat.campaign",
    renderer="secretariat/campaign.jinja2",
    permission=P.SECRETARIAT_HOME_VIEW,
    request_method="GET",
)
def show(request):
    campaign = definition.latest(request.db)
    return _form(request, definition.to_toml(campaign) if campaign else "")


@view_config(
    route_name="secretariat.campaign",
    renderer="secretariat/campaign.jinja2",
    permission=P.SECRETARIAT_CAMPAIGN_EDIT,
    request_method="POST",
)
def save(request):
    text = request.POST.get("campaign_file", "")
    upload = request.POST.get("upload")
    if upload is not None and getattr(upload, "file", None) is not None:
        text = upload.file.read(256 * 1024).decode("utf-8", errors="replace")
    try:
        campaign = definition.load(
            request.db, request.clock, definition.parse(text), actor=request.identity.actor
        )
    except DomainError as exc:
        # Nothing written: a 4xx answer aborts the transaction.
        request.response.status = exc.status
        details = exc.details if isinstance(exc.details, list) else []
        return _form(request, text, details, exc.message)
    request.session.flash(
        f"キャンペーン「{campaign.name}」を保存しました({len(campaign.rounds)}回)。"
    )
    return HTTPFound(request.route_url("secretariat.home"))
