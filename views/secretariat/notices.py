"""The secretariat's notices to the stores (S-4): write (with a confirmation step), list, and per
notice who has read it and how its mails went."""

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.security import P
from kariya.stores import notices
from workflows import mail as mail_wf
from workflows.binding import label


def _index(request, form=None, error=None, problems=(), preview=False) -> dict:
    return {
        "notices": notices.listing(request.db),
        "audience": notices.audience(request.db),
        "form": form or {"title": "", "body": ""},
        "error": error,
        "problems": problems,
        "preview": preview,
        "title_max": notices.TITLE_MAX,
        "body_max": notices.BODY_MAX,
    }


@view_config(
    route_name="secretariat.notices",
    renderer="secretariat/notices.jinja2",
    permission=P.SECRETARIAT_NOTICES_EDIT,
    request_method="GET",
)
def index(request):
    return _index(request)


@view_config(
    route_name="secretariat.notices",
    renderer="secretariat/notices.jinja2",
    permission=P.SECRETARIAT_NOTICES_EDIT,
    request_method="POST",
)
def publish(request):
    """action=preview (the form's button): check and show the confirmation; action=back: edit
    again; action=publish (the confirmation's button): publish and mail."""
    form = {"title": request.POST.get("title", ""), "body": request.POST.get("body", "")}
    action = request.POST.get("action", "preview")
    try:
        if action != "publish":
            if action != "back":
                form["title"], form["body"] = notices.validate(form["title"], form["body"])
            return _index(request, form, preview=action != "back")
        notice = notices.publish(
            request.db,
            request.clock,
            title=form["title"],
            body=form["body"],
            actor=request.identity.actor,
            settings=request.kariya_settings,
        )
    except DomainError as exc:
        problems = exc.details if isinstance(exc.details, list) else ()
        response = render_to_response(
            "secretariat/notices.jinja2",
            _index(request, form, exc.message, problems),
            request=request,
        )
        response.status = exc.status  # the transaction aborts: no notice, no mail
        return response
    request.enqueue("kariya.mail.send")
    request.session.flash(
        f"お知らせ「{notice.title}」を全登録店に通知しました。メールを順に送信します。"
    )
    return HTTPFound(request.route_url("secretariat.notice", id=notice.id))


@view_config(
    route_name="secretariat.notice",
    renderer="secretariat/notice.jinja2",
    permission=P.SECRETARIAT_NOTICES_EDIT,
    request_method="GET",
)
def show(request):
    return {
        **notices.detail(request.db, int(request.matchdict["id"])),
        "mail_label": lambda state: label(mail_wf.MACHINE, state),
    }


@view_config(
    route_name="secretariat.notice_retry",
    permission=P.SECRETARIAT_NOTICES_EDIT,
    request_method="POST",
)
def retry(request):
    notice_id = int(request.matchdict["id"])
    count = notices.retry_failed(request.db, request.clock, notice_id, request.identity.actor)
    if count:
        request.enqueue("kariya.mail.send")
        request.session.flash(f"送信に失敗したメール {count} 通を再送します。")
    else:
        request.session.flash("送信に失敗したメールはありません。")
    return HTTPFound(request.route_url("secretariat.notice", id=notice_id))
