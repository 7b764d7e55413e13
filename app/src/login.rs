//! The login page (`/login`), served to anyone: username and password; after the first login
//! with a one-time password, a new password (twice); then on to the page asked for in `next`
//! (a local path only, else `/`).
//!
//! Rendered on the server ready to fill in, with the submit button disabled until the page is
//! hydrated (the form then carries `data-ready="true"`); once hydrated it submits with fetch
//! (`api`) and says what went wrong in the reader's language. Values are read from the inputs
//! when the form is submitted, so what was typed or filled in by a password manager before
//! hydration is kept.

use leptos::html;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::ApiError;
use crate::i18n::{login_texts, texts, too_many_attempts};
use crate::wire::Lang;

/// Fewest characters of a new password (the server asks the same).
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Which form the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SignIn,
    /// The session is open but its one-time password must be replaced first.
    NewPassword,
}

/// What went wrong, shown under the form in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginProblem {
    Missing,
    BadCredentials,
    /// Throttled; the wait in whole minutes, rounded up, when the server said it.
    TooManyAttempts {
        minutes: Option<u64>,
    },
    Network,
    Failed(String),
    TooShort,
    Mismatch,
    SameAsUsername,
    Weak,
    WrongCurrent,
    SessionExpired,
    ChangeFailed(String),
}

impl LoginProblem {
    pub fn message(&self, lang: Lang) -> String {
        let t = login_texts(lang);
        let colon = if lang == Lang::Zh { "：" } else { ": " };
        match self {
            LoginProblem::Missing => t.missing.to_string(),
            LoginProblem::BadCredentials => t.bad_credentials.to_string(),
            LoginProblem::TooManyAttempts { minutes } => too_many_attempts(*minutes, lang),
            LoginProblem::Network => t.network.to_string(),
            LoginProblem::Failed(why) => format!("{}{colon}{why}", t.failed),
            LoginProblem::TooShort => t.too_short.to_string(),
            LoginProblem::Mismatch => t.mismatch.to_string(),
            LoginProblem::SameAsUsername => t.same_as_username.to_string(),
            LoginProblem::Weak => t.weak.to_string(),
            LoginProblem::WrongCurrent => t.wrong_current.to_string(),
            LoginProblem::SessionExpired => t.session_expired.to_string(),
            LoginProblem::ChangeFailed(why) => format!("{}{colon}{why}", t.change_failed),
        }
    }

    /// What a failed login means to the person at the keyboard.
    pub fn of_login(e: &ApiError) -> LoginProblem {
        match e {
            ApiError::Refused {
                status,
                retry_after,
                ..
            } if *status == 429 || e.code() == Some("too_many_attempts") => {
                LoginProblem::TooManyAttempts {
                    minutes: wait_minutes(retry_after.as_deref()),
                }
            }
            ApiError::Refused { code, .. } if code == "bad_credentials" => {
                LoginProblem::BadCredentials
            }
            ApiError::Unauthenticated => LoginProblem::BadCredentials,
            ApiError::Network(_) => LoginProblem::Network,
            other => LoginProblem::Failed(other.to_string()),
        }
    }

    /// What a failed password change means.
    pub fn of_password_change(e: &ApiError) -> LoginProblem {
        match e {
            ApiError::Refused {
                status,
                retry_after,
                ..
            } if *status == 429 || e.code() == Some("too_many_attempts") => {
                LoginProblem::TooManyAttempts {
                    minutes: wait_minutes(retry_after.as_deref()),
                }
            }
            ApiError::Refused { code, .. } if code == "bad_credentials" => {
                LoginProblem::WrongCurrent
            }
            ApiError::Refused { code, .. } if code == "weak_password" => LoginProblem::Weak,
            ApiError::Unauthenticated => LoginProblem::SessionExpired,
            ApiError::Network(_) => LoginProblem::Network,
            other => LoginProblem::ChangeFailed(other.to_string()),
        }
    }
}

/// Where to go after logging in: `next` when it is a path on this site (one leading `/`, not
/// `//`, no backslash or control character — browsers read those as another host — and not the
/// login page itself), else `/`.
pub fn local_next(next: Option<&str>) -> String {
    let Some(path) = next else {
        return "/".to_string();
    };
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    let login = path == "/login"
        || ["/login?", "/login/", "/login#"]
            .iter()
            .any(|p| path.starts_with(p));
    if local && !login {
        path.to_string()
    } else {
        "/".to_string()
    }
}

/// A `Retry-After` of whole seconds as whole minutes, rounded up (at least 1); `None` when it is
/// missing or not seconds.
pub fn wait_minutes(retry_after: Option<&str>) -> Option<u64> {
    let seconds: u64 = retry_after?.trim().parse().ok()?;
    Some(seconds.div_ceil(60).max(1))
}

/// The rules a new password must meet (the server checks them too): at least
/// [`MIN_PASSWORD_CHARS`] characters, not the username, typed the same twice.
pub fn check_new_password(username: &str, new: &str, again: &str) -> Result<(), LoginProblem> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return Err(LoginProblem::TooShort);
    }
    if new == username {
        return Err(LoginProblem::SameAsUsername);
    }
    if new != again {
        return Err(LoginProblem::Mismatch);
    }
    Ok(())
}

/// The page's state; each field is a signal, so the struct is `Copy`.
#[derive(Clone, Copy)]
struct LoginPage {
    lang: RwSignal<Lang>,
    step: RwSignal<Step>,
    busy: RwSignal<bool>,
    problem: RwSignal<Option<LoginProblem>>,
    /// Set once hydrated: only then can the forms be submitted.
    ready: RwSignal<bool>,
    /// The account, once known (the new-password step).
    username: RwSignal<String>,
    /// The password typed at login, to fill in the current password of the next step.
    typed_password: RwSignal<String>,
    /// Where to go on success, already checked by [`local_next`].
    next: StoredValue<String>,
}

#[component]
pub fn Login() -> impl IntoView {
    let query = use_query_map();
    let next = local_next(query.with_untracked(|q| q.get("next")).as_deref());
    let page = LoginPage {
        lang: RwSignal::new(Lang::Zh),
        step: RwSignal::new(Step::SignIn),
        busy: RwSignal::new(false),
        problem: RwSignal::new(None),
        ready: RwSignal::new(false),
        username: RwSignal::new(String::new()),
        typed_password: RwSignal::new(String::new()),
        next: StoredValue::new(next),
    };
    provide_context(page);

    #[cfg(feature = "hydrate")]
    browser::start(page);

    let lt = move || login_texts(page.lang.get());
    let toggle = move |_| {
        page.lang.update(|l| {
            *l = match l {
                Lang::Zh => Lang::En,
                Lang::En => Lang::Zh,
            }
        })
    };
    view! {
        <Title text=move || lt().page_title/>
        <div class="login-page" data-lang=move || match page.lang.get() { Lang::Zh => "zh", Lang::En => "en" }>
            <button type="button" class="lang-switch login-lang" on:click=toggle>
                {move || texts(page.lang.get()).switch_lang}
            </button>
            <main class="login-card">
                <header class="login-brand">
                    <span class="logo">"onegrid"</span>
                    <span class="login-product">{move || lt().product}</span>
                    <p class="login-tagline">{move || lt().tagline}</p>
                </header>
                {move || match page.step.get() {
                    Step::SignIn => view! { <SignInForm/> }.into_any(),
                    Step::NewPassword => view! { <NewPasswordForm/> }.into_any(),
                }}
                <p id="login-error" class="login-error" role="alert" hidden=move || page.problem.with(Option::is_none)>
                    {move || page.problem.get().map(|p| p.message(page.lang.get()))}
                </p>
            </main>
            <footer class="login-footer">{move || lt().footer}</footer>
        </div>
    }
}

#[component]
fn SignInForm() -> impl IntoView {
    let page = expect_context::<LoginPage>();
    let lt = move || login_texts(page.lang.get());
    let username: NodeRef<html::Input> = NodeRef::new();
    let password: NodeRef<html::Input> = NodeRef::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        browser::sign_in(page, value_of(username), value_of(password));
    };
    view! {
        <form id="login-form" class="login-form" method="post" action="/login" novalidate
            data-ready=move || page.ready.get().to_string() on:submit=submit>
            <h2>{move || lt().heading}</h2>
            <input type="hidden" name="next" value=page.next.get_value()/>
            <label for="login-username">{move || lt().username}</label>
            <input id="login-username" name="username" type="text" autocomplete="username"
                autocapitalize="none" spellcheck="false" required autofocus node_ref=username/>
            <label for="login-password">{move || lt().password}</label>
            <input id="login-password" name="password" type="password"
                autocomplete="current-password" required node_ref=password/>
            <SubmitButton id="login-submit" label=move || lt().submit busy_label=move || lt().signing_in/>
        </form>
    }
}

#[component]
fn NewPasswordForm() -> impl IntoView {
    let page = expect_context::<LoginPage>();
    let lt = move || login_texts(page.lang.get());
    let current: NodeRef<html::Input> = NodeRef::new();
    let new: NodeRef<html::Input> = NodeRef::new();
    let again: NodeRef<html::Input> = NodeRef::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        browser::set_new_password(page, value_of(current), value_of(new), value_of(again));
    };
    // The form appears after a login, where `autofocus` no longer applies.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(input) = new.get() {
            let _ = input.focus();
        }
    });
    view! {
        <form id="password-form" class="login-form" method="post" action="/login" novalidate
            data-ready=move || page.ready.get().to_string() on:submit=submit>
            <h2>{move || lt().change_heading}</h2>
            <p class="login-note">{move || lt().change_note}</p>
            <p class="login-account">
                <span class="muted">{move || lt().account}</span>
                <span class="login-account-name">{move || page.username.get()}</span>
            </p>
            // For password managers: the account the new password belongs to.
            <input type="text" name="username" autocomplete="username" hidden readonly
                prop:value=move || page.username.get()/>
            <label for="current-password">{move || lt().current_password}</label>
            <input id="current-password" name="current_password" type="password"
                autocomplete="current-password" required
                prop:value=page.typed_password.get_untracked() node_ref=current/>
            <label for="new-password">{move || lt().new_password}</label>
            <input id="new-password" name="new_password" type="password" autocomplete="new-password"
                minlength=MIN_PASSWORD_CHARS required autofocus node_ref=new/>
            <label for="new-password-again">{move || lt().new_password_again}</label>
            <input id="new-password-again" name="new_password_again" type="password"
                autocomplete="new-password" minlength=MIN_PASSWORD_CHARS required node_ref=again/>
            <SubmitButton id="password-submit" label=move || lt().change_submit busy_label=move || lt().changing/>
        </form>
    }
}

/// The form's submit button: disabled until hydrated and while a request is out, with a
/// spinner meanwhile.
#[component]
fn SubmitButton(
    id: &'static str,
    label: impl Fn() -> &'static str + Send + Sync + 'static,
    busy_label: impl Fn() -> &'static str + Send + Sync + 'static,
) -> impl IntoView {
    let page = expect_context::<LoginPage>();
    view! {
        <button id=id type="submit" class="primary login-submit"
            disabled=move || !page.ready.get() || page.busy.get()
            aria-busy=move || page.busy.get().to_string()>
            <Show when=move || page.busy.get()>
                <span class="spinner"></span>
            </Show>
            {move || if page.busy.get() { busy_label() } else { label() }}
        </button>
    }
}

/// What the input holds now (empty on the server, where there is no input).
#[cfg(feature = "hydrate")]
fn value_of(input: NodeRef<html::Input>) -> String {
    input.get_untracked().map(|i| i.value()).unwrap_or_default()
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use super::{check_new_password, LoginPage, LoginProblem, Step};
    use crate::api;
    use crate::wire::{LoginRequest, PasswordChange};

    /// Once hydrated: the language chosen earlier, the forms enabled, and — if this browser
    /// already holds a session whose one-time password must be replaced — the new-password
    /// form straight away.
    pub fn start(page: LoginPage) {
        crate::i18n::keep_language(page.lang);
        Effect::new(move |_| page.ready.set(true));
        spawn_local(async move {
            if let Ok(session) = api::session().await {
                if session.must_change_password && page.step.get_untracked() == Step::SignIn {
                    page.username.set(session.name);
                    page.step.set(Step::NewPassword);
                }
            }
        });
    }

    pub fn sign_in(page: LoginPage, username: String, password: String) {
        if page.busy.get_untracked() {
            return;
        }
        let username = username.trim().to_string();
        if username.is_empty() || password.is_empty() {
            page.problem.set(Some(LoginProblem::Missing));
            return;
        }
        page.problem.set(None);
        page.busy.set(true);
        spawn_local(async move {
            let request = LoginRequest {
                username,
                password: password.clone(),
            };
            match api::log_in(&request).await {
                Ok(session) if session.must_change_password => {
                    page.username.set(session.name);
                    page.typed_password.set(password);
                    page.step.set(Step::NewPassword);
                    page.busy.set(false);
                }
                // Stays busy while the next page loads.
                Ok(_) => api::go_to(&page.next.get_value()),
                Err(e) => {
                    page.problem.set(Some(LoginProblem::of_login(&e)));
                    page.busy.set(false);
                }
            }
        });
    }

    pub fn set_new_password(page: LoginPage, current: String, new: String, again: String) {
        if page.busy.get_untracked() {
            return;
        }
        if current.is_empty() {
            page.problem.set(Some(LoginProblem::WrongCurrent));
            return;
        }
        if let Err(problem) = check_new_password(&page.username.get_untracked(), &new, &again) {
            page.problem.set(Some(problem));
            return;
        }
        page.problem.set(None);
        page.busy.set(true);
        spawn_local(async move {
            let change = PasswordChange {
                current_password: current,
                new_password: new,
            };
            match api::change_password(&change).await {
                Ok(()) => api::go_to(&page.next.get_value()),
                Err(e) => {
                    let problem = LoginProblem::of_password_change(&e);
                    if problem == LoginProblem::SessionExpired {
                        page.typed_password.set(String::new());
                        page.step.set(Step::SignIn);
                    }
                    page.problem.set(Some(problem));
                    page.busy.set(false);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_followed_only_to_a_path_on_this_site() {
        assert_eq!(local_next(None), "/");
        assert_eq!(local_next(Some("/")), "/");
        assert_eq!(local_next(Some("/?incident=42#map")), "/?incident=42#map");
        assert_eq!(local_next(Some("/screen/wall")), "/screen/wall");
        for foreign in [
            "",
            "//evil.example",
            "https://evil.example/",
            "evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "javascript:alert(1)",
            "/login",
            "/login?next=/",
        ] {
            assert_eq!(local_next(Some(foreign)), "/", "{foreign:?}");
        }
        assert_eq!(local_next(Some("/loginhelp")), "/loginhelp");
    }

    #[test]
    fn retry_after_reads_as_whole_minutes_rounded_up() {
        assert_eq!(wait_minutes(Some("600")), Some(10));
        assert_eq!(wait_minutes(Some("61")), Some(2));
        assert_eq!(wait_minutes(Some(" 5 ")), Some(1));
        assert_eq!(wait_minutes(Some("0")), Some(1));
        assert_eq!(wait_minutes(Some("Wed, 21 Oct 2026 07:28:00 GMT")), None);
        assert_eq!(wait_minutes(None), None);
    }

    #[test]
    fn a_new_password_is_long_enough_not_the_username_and_typed_twice_alike() {
        assert_eq!(
            check_new_password("admin", "short", "short"),
            Err(LoginProblem::TooShort)
        );
        // Characters, not bytes: five Chinese characters are fifteen bytes.
        assert_eq!(
            check_new_password("admin", "城市运行网格", "城市运行网格"),
            Err(LoginProblem::TooShort)
        );
        assert_eq!(
            check_new_password("administrator", "administrator", "administrator"),
            Err(LoginProblem::SameAsUsername)
        );
        assert_eq!(
            check_new_password("admin", "祖庙街道网格巡查2026", "祖庙街道网格巡查2025"),
            Err(LoginProblem::Mismatch)
        );
        assert_eq!(
            check_new_password("admin", "祖庙街道网格巡查2026", "祖庙街道网格巡查2026"),
            Ok(())
        );
    }

    #[test]
    fn failed_logins_are_told_apart() {
        let refused = |status: u16, code: &str, retry_after: Option<&str>| ApiError::Refused {
            status,
            code: code.into(),
            message: "m".into(),
            retry_after: retry_after.map(String::from),
        };
        assert_eq!(
            LoginProblem::of_login(&refused(401, "bad_credentials", None)),
            LoginProblem::BadCredentials
        );
        let throttled = LoginProblem::of_login(&refused(429, "too_many_attempts", Some("300")));
        assert_eq!(
            throttled,
            LoginProblem::TooManyAttempts { minutes: Some(5) }
        );
        assert_eq!(
            throttled.message(Lang::Zh),
            "尝试次数过多，请在 5 分钟后再试"
        );
        assert_eq!(
            LoginProblem::of_login(&ApiError::Network("offline".into())),
            LoginProblem::Network
        );
        assert_eq!(
            LoginProblem::of_login(&refused(422, "invalid", None)).message(Lang::Zh),
            "登录失败：m"
        );
        assert_eq!(
            LoginProblem::BadCredentials.message(Lang::Zh),
            "用户名或密码错误"
        );

        assert_eq!(
            LoginProblem::of_password_change(&refused(401, "bad_credentials", None)),
            LoginProblem::WrongCurrent
        );
        assert_eq!(
            LoginProblem::of_password_change(&refused(422, "weak_password", None)),
            LoginProblem::Weak
        );
        assert_eq!(
            LoginProblem::of_password_change(&ApiError::Unauthenticated),
            LoginProblem::SessionExpired
        );
    }
}

#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use leptos::prelude::*;
    use leptos_router::components::Router;
    use leptos_router::location::RequestUrl;

    use super::Login;

    fn render(url: &str) -> String {
        Owner::new().with(|| {
            provide_context(RequestUrl::new(url));
            leptos_meta::provide_meta_context();
            view! { <Router><Login/></Router> }.to_html()
        })
    }

    #[test]
    fn the_page_is_served_ready_to_fill_in_and_submits_only_once_hydrated() {
        let html = render("/login?next=%2F%3Fincident%3D7");
        for needle in [
            r#"id="login-username""#,
            r#"autocomplete="username""#,
            r#"id="login-password""#,
            r#"autocomplete="current-password""#,
            r#"id="login-error""#,
            r#"method="post""#,
            r#"data-ready="false""#,
            r#"value="/?incident=7""#,
            "用户名",
            "城市运行一网统管",
        ] {
            assert!(html.contains(needle), "{needle} in {html}");
        }
        let button = html
            .split(r#"id="login-submit""#)
            .nth(1)
            .and_then(|rest| rest.split('>').next())
            .unwrap_or_default();
        assert!(button.contains("disabled"), "submit disabled: {button}");
        assert!(!html.contains("禅城"), "no district before login");
    }

    #[test]
    fn a_foreign_next_is_not_carried() {
        let html = render("/login?next=%2F%2Fevil.example");
        assert!(html.contains(r#"name="next" value="/""#), "{html}");
    }
}
