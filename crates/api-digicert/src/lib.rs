//! The DigiCert CertCentral Services API v2 face, nested at `/services/v2`.
//!
//! Wire map (reference `digicert-certcentral.md`):
//!
//! * Authentication: the `X-DC-DEVKEY` header (name in any case, value
//!   trimmed). Keys are looked up by SHA-256; a missing, empty, unknown or
//!   revoked key, or one whose user is gone, gets exactly the recorded 403
//!   `access_denied|access_denied_invalid_key`. Other credentials (Basic,
//!   `x-api-key`) count as none. Never 401 (§2).
//! * Checks run in the reference's order (§1): key → route (404
//!   `not_found|route`) → permission (403 `access_denied|missing_permission`,
//!   decided by the shared evaluator from the user's access role and the
//!   key's `restricted_to_role_id`) → object in the path (404
//!   `not_found|<thing>`) → body is a JSON object (400
//!   `bad_request_format`) → fields (400, all of them, see [`input`]) →
//!   references and uniqueness (400).
//! * Responses: compact JSON, `Content-Type: application/json` (no
//!   charset), `Cache-Control: private,no-cache`; 201 `{"id":N}` on create
//!   (`{"id","api_key"}` when a key is made), 204 without body on update
//!   and delete; ids are JSON integers; unset optional keys are omitted.
//! * Lists: `offset`/`limit` (default and maximum 1000, larger values
//!   clamped) with `page{total,limit,offset}`; query keys are
//!   percent-decoded before matching (`filters%5Bstatus%5D`).
//!
//! Module layout: [`route`] is the table of routes and the operation each
//! needs; [`input`] reads bodies and list parameters; [`wire`] holds the
//! response shapes; [`error`] maps domain errors to CertCentral codes in
//! one place. Handlers below only translate between the wire and the
//! service's use cases.

pub mod error;
pub mod input;
pub mod route;
pub mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::any;
use trustdesk_domain::certcentral::{
    ApiKeyStatus, CHILD_TEMPLATE, Operation, ROOT_TEMPLATE, UserKind,
};
use trustdesk_domain::{ProfilePatch, UserId, UserPatch};
use trustdesk_service::{
    ApiCaller, Authorized, Client, NewCcUser, NewServiceUser, RequestId, Service,
    certcentral_resource,
};

use crate::error::ApiError;
use crate::input::{Fields, object};
use crate::route::{Route, UserRef};

/// Largest body the face reads (the server's limit layer answers 413
/// before this; this is the face's own guard).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The face's router, to be nested at `/services/v2`. Every path and method
/// reaches one entry point so that the key is checked before the route,
/// as the vendor does.
pub fn router(service: Service) -> Router {
    Router::new()
        .route("/", any(entry))
        .route("/{*rest}", any(entry))
        .with_state(service)
}

type Reply = Result<Response, ApiError>;

async fn entry(State(service): State<Service>, request: Request) -> Response {
    match handle(&service, request).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(service: &Service, request: Request) -> Reply {
    let (parts, body) = request.into_parts();
    let key = parts
        .headers
        .get("x-dc-devkey")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() {
        return Err(ApiError::invalid_key());
    }
    let caller = service
        .api_caller(key)
        .await?
        .ok_or_else(ApiError::invalid_key)?;
    let route =
        Route::parse(parts.method.as_str(), parts.uri.path()).ok_or_else(ApiError::no_route)?;
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate);
    let client = parts
        .extensions
        .get::<Client>()
        .copied()
        .unwrap_or_default();
    let op = route.operation();
    let auth = authorize(service, &caller, op, &request_id, &client).await?;
    service.touch_api_key(caller.key.id);
    let query = wire::query_pairs(parts.uri.query().unwrap_or_default())
        .ok_or_else(|| ApiError::fields(vec![error::invalid("query")]))?;
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::one(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                "The request body is too large.",
            )
        })?;
    let h = Handler {
        service,
        caller: &caller,
        request_id: &request_id,
        client,
        path: parts.uri.path(),
    };
    h.dispatch(route, auth, &query, &body).await
}

async fn authorize(
    service: &Service,
    caller: &ApiCaller,
    op: Operation,
    request: &RequestId,
    client: &Client,
) -> Result<Authorized, ApiError> {
    let resource = certcentral_resource(caller.principal.account, "*");
    Ok(service
        .authorize(
            &caller.principal,
            op.permission(),
            &resource,
            request,
            client,
        )
        .await?)
}

struct Handler<'a> {
    service: &'a Service,
    caller: &'a Arc<ApiCaller>,
    request_id: &'a RequestId,
    client: Client,
    path: &'a str,
}

impl Handler<'_> {
    fn user_id(&self, r: UserRef) -> UserId {
        match r {
            UserRef::Me => self.caller.user.id,
            UserRef::Id(id) => id,
        }
    }

    async fn dispatch(
        &self,
        route: Route,
        auth: Authorized,
        query: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let svc = self.service;
        let caller = self.caller.as_ref();
        match route {
            Route::Account => self.account().await,
            Route::ListUsers => self.list_users(auth, query, UserKind::Standard).await,
            Route::ListServiceUsers => self.list_users(auth, query, UserKind::ApiOnly).await,
            Route::AddUser => self.add_user(auth, body).await,
            Route::GetUser(r) => self.get_user(auth, self.user_id(r)).await,
            Route::UpdateUser(r) => self.update_user(auth, self.user_id(r), body).await,
            Route::DeleteUser(r) => {
                svc.cc_delete_user(auth, caller, self.user_id(r)).await?;
                Ok(wire::no_content())
            }
            Route::SetUserRole(r) => {
                let id = self.user_id(r);
                svc.cc_check_user(&auth, caller, id).await?;
                let obj = object(body)?;
                let mut f = Fields::new(&obj);
                let role = f.access_roles();
                f.finish()?;
                svc.cc_set_role(auth, caller, id, role.expect("checked"))
                    .await?;
                Ok(wire::no_content())
            }
            Route::SetContainerAssignments(r) => {
                let id = self.user_id(r);
                svc.cc_check_user(&auth, caller, id).await?;
                let obj = object(body)?;
                let mut f = Fields::new(&obj);
                if !f.has("container_id_assignments") {
                    f.errors.push(error::required("container_id_assignments"));
                }
                let ids = f.ids("container_id_assignments");
                f.finish()?;
                svc.cc_set_assignments(auth, caller, id, ids.unwrap_or_default())
                    .await?;
                Ok(wire::no_content())
            }
            Route::ResendCreateEmail(r) => {
                // We send no mail; the user must exist (old pkix clients).
                svc.cc_check_user(&auth, caller, self.user_id(r)).await?;
                Ok(wire::no_content())
            }
            Route::UsernameAvailable => {
                let name = self.availability_name()?;
                let mut q = input::list_users(&[], UserKind::Standard)?.query;
                q.search = Some(trustdesk_domain::certcentral::Search::Exact(name.clone()));
                q.containers = None;
                let found = svc.cc_list_users(auth, caller, q).await?;
                #[derive(serde::Serialize)]
                struct Available {
                    available: bool,
                }
                // A search also matches names and e-mails; only the
                // username counts here.
                let folded = name.to_ascii_lowercase();
                let available = !found.users.iter().any(|u| u.name.folded() == folded);
                Ok(wire::ok(StatusCode::OK, &Available { available }))
            }
            Route::ListContainers => {
                let all = svc.cc_containers(auth, caller).await?;
                Ok(wire::ok(
                    StatusCode::OK,
                    &wire::Containers {
                        containers: all.iter().map(wire::ContainerFull::from).collect(),
                    },
                ))
            }
            Route::GetContainer(id) => {
                let c = svc.cc_check_container(&auth, caller, id).await?;
                Ok(wire::ok(StatusCode::OK, &wire::ContainerFull::from(&c)))
            }
            Route::ContainerParent(id) => {
                let c = svc.cc_check_container(&auth, caller, id).await?;
                let parent = c.parent.unwrap_or(c.id);
                let all = svc.cc_containers(auth, caller).await?;
                let p = all
                    .iter()
                    .find(|x| x.id == parent)
                    .ok_or_else(|| ApiError::not_found(trustdesk_domain::Entity::Container))?;
                Ok(wire::ok(StatusCode::OK, &wire::ContainerFull::from(p)))
            }
            Route::ContainerChildren(id) => {
                svc.cc_check_container(&auth, caller, id).await?;
                let all = svc.cc_containers(auth, caller).await?;
                Ok(wire::ok(
                    StatusCode::OK,
                    &wire::Containers {
                        containers: all
                            .iter()
                            .filter(|c| c.parent == Some(id))
                            .map(wire::ContainerFull::from)
                            .collect(),
                    },
                ))
            }
            Route::ContainerRoles(id) => {
                // Both our templates offer every role.
                svc.cc_check_container(&auth, caller, id).await?;
                Ok(wire::ok(StatusCode::OK, &wire::Roles::access()))
            }
            Route::CreateContainer(parent) => {
                svc.cc_check_container(&auth, caller, parent).await?;
                let obj = object(body)?;
                let mut f = Fields::new(&obj);
                let name = f.required("name", input::text128);
                let template = if f.has("template_id") {
                    f.int("template_id")
                } else {
                    f.errors.push(error::required("template_id"));
                    None
                };
                if let Some(t) = template
                    && t != u64::from(ROOT_TEMPLATE)
                    && t != u64::from(CHILD_TEMPLATE)
                {
                    f.errors.push(error::invalid("template_id"));
                }
                let description = f.optional("description", input::text255);
                f.finish()?;
                let id = svc
                    .cc_create_container(
                        auth,
                        caller,
                        parent,
                        name.expect("checked"),
                        description,
                        template.expect("checked") as u32,
                    )
                    .await?;
                Ok(wire::ok(StatusCode::CREATED, &wire::Id { id: id.0 }))
            }
            Route::UpdateContainer(id) => {
                svc.cc_check_container(&auth, caller, id).await?;
                let obj = object(body)?;
                let mut f = Fields::new(&obj);
                let name = f.required("name", input::text128);
                let description = f.optional("description", input::text255);
                f.finish()?;
                svc.cc_update_container(
                    auth,
                    caller,
                    id,
                    &name.expect("checked"),
                    description.as_deref(),
                )
                .await?;
                Ok(wire::no_content())
            }
            Route::ListKeys => {
                let user = match query.iter().rev().find(|(k, _)| k == "user_id") {
                    None => None,
                    Some((_, v)) => {
                        Some(UserId(v.parse().map_err(|_| {
                            ApiError::fields(vec![error::invalid("user_id")])
                        })?))
                    }
                };
                let keys = svc.cc_list_keys(auth, caller, user).await?;
                Ok(wire::ok(
                    StatusCode::OK,
                    &wire::Keys {
                        api_keys: keys.iter().map(|(k, u)| wire::Key::new(k, u)).collect(),
                    },
                ))
            }
            Route::GetKey(id) => {
                let (k, u) = svc.cc_get_key(auth, caller, id).await?;
                Ok(wire::ok(StatusCode::OK, &wire::Key::new(&k, &u)))
            }
            Route::CreateKey(r) => {
                let user = self.user_id(r);
                svc.cc_check_user(&auth, caller, user).await?;
                let obj = object(body)?;
                let mut f = Fields::new(&obj);
                let name = f.required("name", input::text255);
                let role = f.key_role();
                f.finish()?;
                let (id, secret) = svc
                    .cc_create_key(
                        auth,
                        caller,
                        user,
                        name.expect("checked"),
                        role.unwrap_or(trustdesk_domain::KeyRole::Unrestricted),
                    )
                    .await?;
                Ok(wire::ok(
                    StatusCode::CREATED,
                    &wire::IdAndKey {
                        id: id.0,
                        api_key: secret.expose(),
                    },
                ))
            }
            Route::UpdateKey(id) => {
                svc.cc_check_key(&auth, caller, id).await?;
                let obj = object(body)?;
                let mut f = Fields::new(&obj);
                let name = f.required("name", input::text255);
                let role = f.key_role();
                f.finish()?;
                svc.cc_update_key(auth, caller, id, &name.expect("checked"), role)
                    .await?;
                Ok(wire::no_content())
            }
            Route::SetKeyStatus(id) => {
                svc.cc_check_key(&auth, caller, id).await?;
                let obj = object(body)?;
                let status = match obj.get("status") {
                    None | Some(serde_json::Value::Null) => {
                        return Err(ApiError::fields(vec![error::required("status")]));
                    }
                    Some(v) => v
                        .as_str()
                        .and_then(ApiKeyStatus::parse)
                        .ok_or_else(|| ApiError::fields(vec![error::invalid("status")]))?,
                };
                svc.cc_set_key_status(auth, caller, id, status).await?;
                Ok(wire::no_content())
            }
            Route::KeyRoles => Ok(wire::ok(StatusCode::OK, &wire::Roles::keys())),
        }
    }

    /// The `{username}` of `/user/availability/{username}`, decoded.
    fn availability_name(&self) -> Result<String, ApiError> {
        let segment = self
            .path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        wire::query_pairs(&format!("n={segment}"))
            .and_then(|mut p| p.pop())
            .map(|(_, v)| v)
            .ok_or_else(|| ApiError::fields(vec![error::invalid("username")]))
    }

    async fn account(&self) -> Reply {
        let account = self.caller.principal.account;
        let root = self.service.root_container(account).await?;
        Ok(wire::ok(
            StatusCode::OK,
            &wire::Account {
                id: account.0,
                primary_organization_id: 0,
                primary_organization_name: "trustdesk",
                primary_organization_country: "us",
                make_renewal_calls: false,
                express_install_enabled: false,
                display_rep: false,
                rep_photo_id: 0,
                balance_negative_limit: 0,
                root_container_id: root.id.0,
                cert_transparency: "embed",
                cert_central_type: "retail",
                billing_account_id: account.0,
                billing_account_name: "trustdesk",
                language_id: 1,
                migrated: false,
                has_auth_key: false,
                client_mgr_photo_id: 0,
                ent_support_plan: "1",
                default_country: "us",
            },
        ))
    }

    async fn list_users(
        &self,
        auth: Authorized,
        query: &[(String, String)],
        kind: UserKind,
    ) -> Reply {
        let list = input::list_users(query, kind)?;
        let (offset, limit) = (list.query.offset, list.query.limit);
        let listing = if list.nobody {
            trustdesk_domain::UserListing {
                users: Vec::new(),
                total: 0,
            }
        } else {
            self.service
                .cc_list_users(auth, self.caller, list.query)
                .await?
        };
        let containers = self
            .service
            .containers(self.caller.principal.account)
            .await?;
        Ok(wire::ok(
            StatusCode::OK,
            &wire::Users {
                users: listing
                    .users
                    .iter()
                    .map(|u| wire::UserItem::new(u, &containers, list.with_container))
                    .collect(),
                page: wire::Page {
                    total: listing.total,
                    limit,
                    offset,
                },
            },
        ))
    }

    async fn get_user(&self, auth: Authorized, id: UserId) -> Reply {
        let user = self.service.cc_get_user(auth, self.caller, id).await?;
        let containers = self
            .service
            .containers(self.caller.principal.account)
            .await?;
        let visible = self.service.visible_containers(&user).await?;
        let visibility: Vec<wire::ContainerRef> =
            visible.iter().map(wire::ContainerRef::from).collect();
        Ok(wire::ok(
            StatusCode::OK,
            &wire::UserFull {
                item: wire::UserItem::new(&user, &containers, true),
                is_cert_central: true,
                is_enterprise: false,
                is_saml_sso_only: user.profile.saml_sso_only,
                language_id: 1,
                account_language_id: 1,
                container_visibility: visibility,
            },
        ))
    }

    async fn add_user(&self, auth: Authorized, body: &[u8]) -> Reply {
        let obj = object(body)?;
        let mut f = Fields::new(&obj);
        if f.bool("is_api_only") == Some(true) {
            return self.add_service_user(f).await;
        }
        let username = f.required("username", input::username);
        let first_name = f.required("first_name", input::name);
        let last_name = f.required("last_name", input::name);
        let email = f.required("email", input::email);
        let job_title = f.optional("job_title", input::short);
        let telephone = f.optional("telephone", input::short);
        let container = f.container();
        let role = f.access_roles();
        let assignments = f.ids("container_id_assignments");
        let saml = f.bool("is_saml_sso_only");
        f.finish()?;
        let new = NewCcUser {
            username: input::user_name(username.expect("checked")),
            first_name: first_name.expect("checked"),
            last_name: last_name.expect("checked"),
            email: input::email_value(email.expect("checked")),
            job_title,
            telephone,
            container,
            role: role.expect("checked"),
            container_assignments: assignments.unwrap_or_default(),
            saml_sso_only: saml.unwrap_or(false),
        };
        let id = self.service.cc_add_user(auth, self.caller, new).await?;
        Ok(wire::ok(StatusCode::CREATED, &wire::Id { id: id.0 }))
    }

    /// `is_api_only: true`: a separate permission (administrators only).
    async fn add_service_user(&self, mut f: Fields<'_>) -> Reply {
        let auth = authorize(
            self.service,
            self.caller,
            Operation::AddServiceUser,
            self.request_id,
            &self.client,
        )
        .await?;
        let email = f.required("email", input::email);
        let api_name = f.required("api_name", input::text255);
        let role = f.key_role();
        let assignments = f.ids("container_id_assignments");
        f.finish()?;
        let new = NewServiceUser {
            email: input::email_value(email.expect("checked")),
            key_name: api_name.expect("checked"),
            key_role: role.unwrap_or(trustdesk_domain::KeyRole::Unrestricted),
            container_assignments: assignments,
        };
        let (id, secret) = self
            .service
            .cc_add_service_user(auth, self.caller, new)
            .await?;
        Ok(wire::ok(
            StatusCode::CREATED,
            &wire::IdAndKey {
                id: id.0,
                api_key: secret.expose(),
            },
        ))
    }

    async fn update_user(&self, auth: Authorized, id: UserId, body: &[u8]) -> Reply {
        self.service.cc_check_user(&auth, self.caller, id).await?;
        let obj = object(body)?;
        let mut f = Fields::new(&obj);
        let email = f.required("email", input::email);
        let username = f.optional("username", input::username);
        let first_name = f.optional("first_name", input::name);
        let last_name = f.optional("last_name", input::name);
        // Omitted job_title / telephone clear the stored value (§6.6).
        let job_title = f.optional("job_title", input::short);
        let telephone = f.optional("telephone", input::short);
        let saml = f.bool("is_saml_sso_only");
        f.finish()?;
        let patch = UserPatch {
            name: username.map(input::user_name),
            email: Some(Some(input::email_value(email.expect("checked")))),
            profile: ProfilePatch {
                first_name,
                last_name,
                job_title: Some(job_title),
                telephone: Some(telephone),
                saml_sso_only: saml,
                ..ProfilePatch::default()
            },
            ..UserPatch::default()
        };
        self.service
            .cc_update_user(auth, self.caller, id, patch)
            .await?;
        Ok(wire::no_content())
    }
}
