//! Describe: `GET`/`POST /metadata` (full form) and `POST /metadata/install` (union form).
//!
//! Every form answers the full v1 response: configuration values, `provides*` flags,
//! actions and `install.typeElements`. The install form also carries `actions` and
//! `types` at the top level (the 2017 v2 shape), so every known engine finds what it
//! reads (the Flow wire protocol, `protocol`). Describe never fails on missing configuration values: builders
//! describe a service before they have filled them in.

use http::{Request, Response, StatusCode};

use super::Context;
use crate::definition::{ServiceDefinition, ValueDefinition};
use crate::error::Result;
use crate::http::body::{self, Blank, ReqBody, ResBody};
use crate::protocol::{
    DescribeInstall, DescribeServiceActionResponse, DescribeServiceRequest,
    DescribeServiceResponse, DescribeValue, TypeElement, TypeElementBinding, TypeElementProperty,
    TypeElementPropertyBinding,
};

/// Answers a describe request.
pub(crate) async fn handle(
    ctx: &Context<'_>,
    req: Request<ReqBody>,
    install: bool,
) -> Result<Response<ResBody>> {
    let (parts, body) = req.into_parts();
    // A body is optional; when one is sent it must be JSON.
    let (_, request): (_, DescribeServiceRequest) = body::read_json(
        body,
        &parts.headers,
        ctx.max_request_bytes(),
        Blank::Default,
    )
    .await?;
    let mut resp = describe(&ctx.service.definition);
    resp.culture = request.culture;
    resp.uri = request.uri;
    if install {
        resp.types = Some(resp.install.type_elements.clone());
    }
    Ok(body::json_response(StatusCode::OK, &resp))
}

/// The describe answer for a definition.
pub(crate) fn describe(def: &ServiceDefinition) -> DescribeServiceResponse {
    let actions: Vec<DescribeServiceActionResponse> = def
        .message_actions
        .iter()
        .map(|a| DescribeServiceActionResponse {
            uri_part: format!("actions/{}", a.uri_suffix()),
            developer_name: a.name.clone(),
            developer_summary: a.description.clone(),
            service_inputs: values(&a.inputs),
            service_outputs: values(&a.outputs),
            service_action_outcomes: Vec::new(),
            is_view_message_action: false,
        })
        .collect();
    let type_elements = def
        .types
        .iter()
        .map(|t| {
            let bound = def.data_actions.iter().any(|d| d.object_type == t.name);
            TypeElement {
                element_type: "TYPE".to_owned(),
                developer_name: t.name.clone(),
                developer_summary: t.description.clone(),
                id: None,
                service_element_id: None,
                properties: t
                    .properties
                    .iter()
                    .map(|p| TypeElementProperty {
                        id: None,
                        developer_name: p.name.clone(),
                        content_format: None,
                        content_type: p.value_type.content_type(),
                        type_element_id: None,
                        type_element_developer_name: p.type_name.clone(),
                    })
                    .collect(),
                bindings: if bound {
                    vec![TypeElementBinding {
                        id: None,
                        developer_name: format!("{} Binding", t.name),
                        developer_summary: t.description.clone(),
                        database_table_name: t.name.clone(),
                        service_element_id: None,
                        property_bindings: t
                            .properties
                            .iter()
                            .map(|p| TypeElementPropertyBinding {
                                database_field_name: p.name.clone(),
                                type_element_property_id: None,
                                type_element_property_developer_name: p.name.clone(),
                                database_content_type: Some(
                                    p.value_type.content_type().as_str().to_owned(),
                                ),
                            })
                            .collect(),
                    }]
                } else {
                    Vec::new()
                },
                update_by_name: false,
            }
        })
        .collect();
    DescribeServiceResponse {
        culture: None,
        uri: None,
        configuration_values: values(&def.configuration_values),
        provides_auto_binding: false,
        provides_database: !def.data_actions.is_empty(),
        provides_files: !def.file_resources.is_empty(),
        provides_identity: false,
        provides_listening: !def.listenable_events.is_empty(),
        provides_logic: !def.message_actions.is_empty(),
        provides_notifications: false,
        provides_smart_save: false,
        provides_social: false,
        provides_sharing: false,
        provides_views: false,
        provides_voting: false,
        actions,
        install: DescribeInstall { type_elements },
        types: None,
    }
}

fn values(defs: &[ValueDefinition]) -> Vec<DescribeValue> {
    defs.iter()
        .enumerate()
        .map(|(i, v)| {
            DescribeValue::new(
                &v.name,
                v.value_type.content_type(),
                v.type_name.as_deref(),
                v.required,
                i as i64,
            )
        })
        .collect()
}
