//! Message actions over real sockets: echo, command, handler, required inputs and
//! configuration values, failing processes, unknown actions, engine-shaped payloads.

mod support;

use std::sync::{Arc, Mutex};

use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
use fss::server::ServerConfig;
use http::Method;
use serde_json::{json, Value};
use support::{fixture, post_json, request, Answer, TestServer};

const TENANT: &str = "0b3b9e57-2d7a-4c55-9e6c-1f4f4c1b8a01";
const STATE: &str = "7e3d9b1a-2c4f-4a6e-8b0d-1f5c3e7a9d62";
const CALLBACK: &str = "https://flow.example.test/api/run/1/response";

/// A ServiceRequest as the engine sends it, with `inputs` and `config` filled in.
fn service_request(token: &str, inputs: Value, config: Value) -> Value {
    json!({
        "token": token,
        "tenantId": TENANT,
        "stateId": STATE,
        "callbackUri": CALLBACK,
        "culture": {"id": null, "developerName": null, "developerSummary": null, "brand": null,
                    "language": "EN", "country": "USA", "variant": null},
        "executionMode": "",
        "uri": "http://127.0.0.1/fs/Sample/actions/echo",
        "annotations": {"source": "test"},
        "attributes": null,
        "authorization": null,
        "configurationValues": config,
        "inputs": inputs,
        "outcomes": []
    })
}

/// One scalar EngineValue.
fn scalar(name: &str, content_type: &str, value: Option<&str>) -> Value {
    json!({"valueElementId": "c3a1e5b7-4d2f-4b8a-9e6c-2f1d7a3b5c90", "typeElementId": null,
           "typeElementPropertyId": null, "developerName": name,
           "typeElementDeveloperName": null, "typeElementPropertyDeveloperName": null,
           "contentValue": value, "contentType": content_type, "objectData": null})
}

/// A configuration value as the engine sends it (content type null).
fn config(name: &str, value: &str) -> Value {
    json!({"valueElementId": null, "developerName": name, "contentValue": value,
           "contentType": null, "objectData": null})
}

/// The output of `answer` named `name`.
fn output<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer["outputs"]
        .as_array()
        .unwrap_or_else(|| panic!("no outputs: {answer}"))
        .iter()
        .find(|o| o["developerName"] == name)
        .unwrap_or_else(|| panic!("no output '{name}' in {answer}"))
}

/// The X-Execution-Id of an answer, checked to be a UUID.
fn execution_id(a: &Answer) -> String {
    let id = a.header("x-execution-id").expect("X-Execution-Id is set");
    uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("execution id {id} is not a UUID: {e}"));
    id.to_owned()
}

/// A Desk `Order` object with a nested customer and two lines, as the engine sends it.
fn order_object() -> Value {
    json!({
        "internalId": "a1a1a1a1-0000-4000-8000-000000000001", "externalId": "o-1",
        "developerName": "Order", "typeElementId": null, "order": 0, "isSelected": false,
        "typeElementBindingDeveloperName": null,
        "properties": [
            {"developerName": "Id", "contentType": "ContentString", "contentValue": "o-1",
             "contentFormat": "", "objectData": null, "typeElementPropertyId": null},
            {"developerName": "Total", "contentType": "ContentNumber", "contentValue": "19.99",
             "contentFormat": "", "objectData": null},
            {"developerName": "Placed", "contentType": "ContentDateTime",
             "contentValue": "2016-06-27T09:23:01+00:00", "contentFormat": "", "objectData": null},
            {"developerName": "Customer", "contentType": "ContentObject", "contentValue": null,
             "objectData": [{"externalId": "c-9", "developerName": "Customer", "properties": [
                 {"developerName": "Name", "contentType": "ContentString", "contentValue": "Ada"},
                 {"developerName": "Vip", "contentType": "ContentBoolean", "contentValue": "true"}
             ]}]},
            {"developerName": "Lines", "contentType": "ContentList", "contentValue": null,
             "objectData": [
                 {"externalId": null, "developerName": "Line", "properties": [
                     {"developerName": "Sku", "contentType": "ContentString", "contentValue": "A-1"},
                     {"developerName": "Qty", "contentType": "ContentNumber", "contentValue": "2"}]},
                 {"externalId": null, "developerName": "Line", "properties": [
                     {"developerName": "Sku", "contentType": "ContentString", "contentValue": "B-2"},
                     {"developerName": "Qty", "contentType": "ContentNumber", "contentValue": "1"}]}
             ]}
        ]
    })
}

/// The property `name` of an MObject.
fn prop<'a>(object: &'a Value, name: &str) -> &'a Value {
    object["properties"]
        .as_array()
        .unwrap_or_else(|| panic!("no properties: {object}"))
        .iter()
        .find(|p| p["developerName"] == name)
        .unwrap_or_else(|| panic!("no property '{name}' in {object}"))
}

// ---------------------------------------------------------------------------------------
// echo

#[tokio::test]
async fn echo_returns_inputs_as_outputs_and_echoes_token_and_tenant() {
    let server = TestServer::start(&fixture("core")).await;
    let body = service_request(
        "tok-123",
        json!([
            scalar("Name", "ContentString", Some("Ada Lovelace")),
            scalar("Count", "ContentNumber", Some("42")),
            scalar("Undeclared", "ContentString", Some("ignored"))
        ]),
        json!([config("Region", "EU")]),
    );
    let answer = post_json(&server.url("/fs/Sample/actions/echo"), &body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let first_id = execution_id(&answer);
    let r = answer.json();
    assert_eq!(r["invokeType"], "FORWARD");
    assert_eq!(r["token"], "tok-123");
    assert_eq!(r["tenantId"], TENANT);
    let outputs = r["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2, "{r}");
    assert_eq!(output(&r, "Name")["contentValue"], "Ada Lovelace");
    assert_eq!(output(&r, "Name")["contentType"], "ContentString");
    assert_eq!(output(&r, "Count")["contentValue"], "42");
    assert_eq!(output(&r, "Count")["contentType"], "ContentNumber");

    // Every request is its own execution.
    let again = post_json(&server.url("/fs/Sample/actions/echo"), &body).await;
    assert_eq!(again.status, 200);
    assert_ne!(execution_id(&again), first_id);
    server.stop().await;
}

#[tokio::test]
async fn echo_leaves_out_outputs_whose_input_is_absent() {
    let server = TestServer::start(&fixture("core")).await;
    let body = service_request(
        "tok-1",
        json!([scalar("Name", "ContentString", Some("only name"))]),
        Value::Null,
    );
    let r = post_json(&server.url("/fs/Sample/actions/echo"), &body)
        .await
        .json();
    assert_eq!(r["invokeType"], "FORWARD");
    let names: Vec<&str> = r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["developerName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Name"]);
    server.stop().await;
}

#[tokio::test]
async fn echo_carries_object_and_list_values() {
    let server = TestServer::start(&fixture("desk")).await;
    let body = service_request(
        "tok-obj",
        json!([
            {"developerName": "Order", "contentType": "ContentObject", "contentValue": null,
             "typeElementDeveloperName": "Order", "objectData": [order_object()]},
            {"developerName": "Lines", "contentType": "ContentList", "contentValue": null,
             "typeElementDeveloperName": "Line",
             "objectData": order_object()["properties"][4]["objectData"].clone()},
            scalar("Note", "ContentString", Some("rush"))
        ]),
        json!([config("Region", "EU"), config("Api Key", "k-1")]),
    );
    let answer = post_json(&server.url("/fs/Desk/actions/copy-order"), &body).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let r = answer.json();
    let order = output(&r, "Order");
    assert_eq!(order["contentType"], "ContentObject");
    assert_eq!(order["typeElementDeveloperName"], "Order");
    let objects = order["objectData"].as_array().unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["externalId"], "o-1");
    assert_eq!(prop(&objects[0], "Total")["contentValue"], "19.99");
    let customer = &prop(&objects[0], "Customer")["objectData"][0];
    assert_eq!(prop(customer, "Name")["contentValue"], "Ada");
    assert_eq!(
        prop(&objects[0], "Lines")["objectData"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let lines = output(&r, "Lines");
    assert_eq!(lines["contentType"], "ContentList");
    assert_eq!(lines["typeElementDeveloperName"], "Line");
    let lines = lines["objectData"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(prop(&lines[1], "Sku")["contentValue"], "B-2");
    assert_eq!(output(&r, "Note")["contentValue"], "rush");
    server.stop().await;
}

#[tokio::test]
async fn engine_payload_with_null_everywhere_parses() {
    let server = TestServer::start(&fixture("core")).await;
    let body = json!({
        "token": null, "tenantId": null, "stateId": null, "callbackUri": null,
        "platformUri": null, "culture": null, "executionMode": "SOMETHING_NEW",
        "configurationValues": null, "authorization": null, "annotations": null,
        "attributes": null, "joinPlayerUri": null, "playerUri": null, "uri": null,
        "debugMode": null,
        "inputs": [
            {"valueElementId": null, "typeElementId": null, "typeElementPropertyId": null,
             "developerName": "Name", "typeElementDeveloperName": null,
             "typeElementPropertyDeveloperName": null, "contentValue": null,
             "contentType": null, "objectData": null, "objectDataResponse": null},
            {"developerName": "Count", "contentValue": "7", "contentType": "ContentFromTheFuture"},
            {"developerName": null, "contentValue": null, "contentType": null,
             "objectData": [{"internalId": null, "externalId": null, "developerName": null,
                             "typeElementId": null, "order": null, "properties": null,
                             "typeElementBindingDeveloperName": null, "isSelected": null}]}
        ],
        "outcomes": [{"id": null, "developerName": null, "label": null, "order": null,
                      "pageActionBindingType": null, "pageActionType": null,
                      "isBulkAction": null, "pageObjectBindingId": null, "isOut": null,
                      "attributes": null}],
        "somethingNewer": {"x": [1, 2]}
    });
    let answer = post_json(&server.url("/fs/Sample/actions/echo"), &body).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    execution_id(&answer);
    let r = answer.json();
    assert_eq!(r["invokeType"], "FORWARD");
    assert_eq!(r["token"], Value::Null);
    // An unknown content type is carried, not refused; the output takes the declared type.
    assert_eq!(output(&r, "Count")["contentValue"], "7");
    assert_eq!(output(&r, "Count")["contentType"], "ContentNumber");

    // The same with nulls inside a data-shaped request for the command action too.
    let mut approve = body.clone();
    approve["inputs"] = json!([scalar("Order Id", "ContentString", Some("n-1"))]);
    let answer = post_json(&server.url("/fs/Sample/actions/approve-order"), &approve).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// command

#[tokio::test]
async fn command_runs_with_inputs_configuration_and_execution_id() {
    let server = TestServer::start(&fixture("core")).await;
    let body = service_request(
        "tok-cmd",
        json!([scalar("Order Id", "ContentString", Some("42"))]),
        json!([config("Region", "EU")]),
    );
    let answer = post_json(&server.url("/fs/Sample/actions/approve-order"), &body).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let id = execution_id(&answer);
    let r = answer.json();
    assert_eq!(r["invokeType"], "FORWARD");
    assert_eq!(r["token"], "tok-cmd");
    assert_eq!(r["tenantId"], TENANT);
    // The script puts the configuration value (by name) and the stdin executionId in it.
    assert_eq!(
        output(&r, "Message")["contentValue"],
        format!("order 42 approved for EU (execution {id})")
    );
    assert_eq!(output(&r, "Message")["contentType"], "ContentString");
    let at = output(&r, "Approved At");
    assert_eq!(at["contentType"], "ContentDateTime");
    let at = at["contentValue"].as_str().unwrap();
    assert!(
        at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
        "{at}"
    );

    // Without the optional configuration value the script falls back.
    let body = service_request(
        "tok-cmd2",
        json!([scalar("Order Id", "ContentString", Some("43"))]),
        Value::Null,
    );
    let answer = post_json(&server.url("/fs/Sample/actions/approve-order"), &body).await;
    assert_eq!(answer.status, 200);
    let id = execution_id(&answer);
    assert_eq!(
        output(&answer.json(), "Message")["contentValue"],
        format!("order 43 approved for any region (execution {id})")
    );
    server.stop().await;
}

#[tokio::test]
async fn failing_command_answers_500_with_its_last_stderr_line() {
    let server = TestServer::start(&fixture("core")).await;
    let body = service_request(
        "tok-rej",
        json!([scalar("Order Id", "ContentString", Some("reject-7"))]),
        Value::Null,
    );
    let answer = post_json(&server.url("/fs/Sample/actions/approve-order"), &body).await;
    let msg = answer.problem(500);
    assert_eq!(msg, "order reject-7 cannot be approved");
    execution_id(&answer);
    server.stop().await;

    // Several stderr lines and a trailing blank one: the last non-empty line is the message.
    let server = TestServer::start(&fixture("desk")).await;
    let body = service_request(
        "tok-fail",
        json!([]),
        json!([config("Region", "EU"), config("Api Key", "k")]),
    );
    let answer = post_json(&server.url("/fs/Desk/actions/always/fail"), &body).await;
    assert_eq!(answer.problem(500), "desk is closed for the night");
    assert_eq!(answer.json()["uri"], "/fs/Desk/actions/always/fail");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// required inputs and configuration values

#[tokio::test]
async fn missing_required_input_is_400_naming_it() {
    let server = TestServer::start(&fixture("core")).await;
    let url = server.url("/fs/Sample/actions/approve-order");
    for inputs in [
        Value::Null,
        json!([]),
        json!([scalar("Order Id", "ContentString", None)]),
        json!([scalar("Order Id", "ContentString", Some(""))]),
        json!([scalar("order id", "ContentString", Some("case matters"))]),
    ] {
        let answer = post_json(&url, &service_request("t", inputs.clone(), Value::Null)).await;
        let msg = answer.problem(400);
        assert!(msg.contains("'Order Id'"), "{inputs}: {msg}");
    }

    // An Object input without objects is missing too.
    let server2 = TestServer::start(&fixture("desk")).await;
    let body = service_request(
        "t",
        json!([{"developerName": "Order", "contentType": "ContentObject", "objectData": []}]),
        json!([config("Region", "EU"), config("Api Key", "k")]),
    );
    let answer = post_json(&server2.url("/fs/Desk/actions/copy-order"), &body).await;
    let msg = answer.problem(400);
    assert!(msg.contains("'Order'"), "{msg}");
    server.stop().await;
    server2.stop().await;
}

#[tokio::test]
async fn missing_required_configuration_value_is_400_naming_it() {
    let server = TestServer::start(&fixture("desk")).await;
    let url = server.url("/fs/Desk/actions/copy-order");
    let inputs = json!([{"developerName": "Order", "contentType": "ContentObject",
                         "objectData": [order_object()]}]);
    let cases = [
        (Value::Null, "Region"),
        (json!([config("Region", "EU")]), "Api Key"),
        (
            json!([config("Region", ""), config("Api Key", "k")]),
            "Region",
        ),
        (json!([config("Api Key", "k")]), "Region"),
    ];
    for (config_values, missing) in cases {
        let answer = post_json(
            &url,
            &service_request("t", inputs.clone(), config_values.clone()),
        )
        .await;
        let msg = answer.problem(400);
        assert!(
            msg.contains(&format!("'{missing}'")) && msg.contains("configuration"),
            "{config_values}: {msg}"
        );
    }
    // With both it runs.
    let answer = post_json(
        &url,
        &service_request(
            "t",
            inputs,
            json!([config("Region", "EU"), config("Api Key", "k")]),
        ),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// handler

/// Records every call it gets and answers from its inputs.
#[derive(Clone, Default)]
struct Inspect {
    seen: Arc<Mutex<Vec<ProcessCall>>>,
}

impl Handler for Inspect {
    fn call(&self, call: ProcessCall) -> HandlerFuture {
        self.seen.lock().unwrap().push(call.clone());
        Box::pin(async move {
            if call.input_str("Note") == Some("fail please") {
                return Err(fss::Error::Process("inspect refused the note".into()));
            }
            let order = call.inputs.get("Order").cloned().unwrap_or(Value::Null);
            let lines = call.inputs.get("Lines").cloned().unwrap_or(Value::Null);
            let count = lines.as_array().map_or(0, Vec::len);
            Ok(Reply::outputs(json!({
                "Summary": format!("{} for {}", call.input_str("Note").unwrap_or("?"),
                                   call.properties["Region"].as_str().unwrap_or("?")),
                "Count": count,
                "Order": order,
                "Lines": lines,
                "Undeclared": "dropped"
            })))
        })
    }
}

async fn start_hooks(inspect: &Inspect) -> TestServer {
    let h = inspect.clone();
    TestServer::start_with(
        &fixture("handler"),
        move |rt| rt.register_handler("inspect", h),
        ServerConfig::default(),
    )
    .await
}

#[tokio::test]
async fn handler_sees_inputs_properties_and_configuration() {
    let inspect = Inspect::default();
    let server = start_hooks(&inspect).await;
    let order = order_object();
    let body = service_request(
        "tok-h",
        json!([
            scalar("Note", "ContentString", Some("rush")),
            scalar("Amount", "ContentNumber", Some("19.5")),
            scalar("Paid", "ContentBoolean", Some("TRUE")),
            {"developerName": "Order", "contentType": "ContentObject",
             "typeElementDeveloperName": "Order", "objectData": [order]},
            {"developerName": "Lines", "contentType": "ContentList",
             "typeElementDeveloperName": "Line",
             "objectData": order_object()["properties"][4]["objectData"].clone()}
        ]),
        json!([config("Region", "EU"), config("Api Key", "secret-key")]),
    );
    let auth = "ManyWhoTenantId%3D0b3b9e57%26ManyWhoUserId%3D52df1a90";
    let answer = request(
        Method::POST,
        &server.url("/fs/Hooks/actions/inspect/call"),
        &[
            ("content-type", "application/json"),
            ("authorization", auth),
        ],
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let id = execution_id(&answer);

    let call = inspect
        .seen
        .lock()
        .unwrap()
        .pop()
        .expect("handler was called");
    assert_eq!(&*call.service, "Hooks");
    assert_eq!(call.operation, "action");
    assert_eq!(call.name, "Inspect");
    assert_eq!(call.execution_id, id);
    // Inputs in plain form.
    assert_eq!(call.inputs["Note"], "rush");
    assert_eq!(call.inputs["Amount"], json!(19.5));
    assert_eq!(call.inputs["Paid"], true);
    let o = &call.inputs["Order"];
    assert_eq!(o["externalId"], "o-1");
    assert_eq!(o["Id"], "o-1");
    assert_eq!(o["Total"], json!(19.99));
    assert_eq!(o["Customer"]["Name"], "Ada");
    assert_eq!(o["Customer"]["Vip"], true);
    assert_eq!(o["Lines"][1]["Sku"], "B-2");
    assert_eq!(o["Lines"][1]["Qty"], 1);
    assert_eq!(call.inputs["Lines"].as_array().unwrap().len(), 2);
    // Properties: request fields, the Authorization header, configuration values by name.
    let p = &call.properties;
    assert_eq!(p["token"], "tok-h");
    assert_eq!(p["tenantId"], TENANT);
    assert_eq!(p["stateId"], STATE);
    assert_eq!(p["callbackUri"], CALLBACK);
    assert_eq!(p["culture"]["language"], "EN");
    assert_eq!(p["culture"]["country"], "USA");
    assert_eq!(p["authorization"], auth);
    assert_eq!(p["Region"], "EU");
    assert_eq!(p["Api Key"], "secret-key");

    // Outputs are converted back per the definition; undeclared ones are dropped.
    let r = answer.json();
    assert_eq!(r["token"], "tok-h");
    assert_eq!(r["invokeType"], "FORWARD");
    assert_eq!(output(&r, "Summary")["contentValue"], "rush for EU");
    assert_eq!(output(&r, "Count")["contentValue"], "2");
    assert_eq!(output(&r, "Count")["contentType"], "ContentNumber");
    let out_order = &output(&r, "Order")["objectData"][0];
    assert_eq!(out_order["externalId"], "o-1");
    assert_eq!(out_order["developerName"], "Order");
    assert_eq!(prop(out_order, "Total")["contentValue"], "19.99");
    assert_eq!(
        prop(&prop(out_order, "Customer")["objectData"][0], "Vip")["contentValue"],
        "true"
    );
    assert_eq!(
        output(&r, "Lines")["objectData"].as_array().unwrap().len(),
        2
    );
    assert!(
        r["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["developerName"] != "Undeclared"),
        "{r}"
    );
    server.stop().await;
}

#[tokio::test]
async fn handler_without_optional_values_sees_nulls() {
    let inspect = Inspect::default();
    let server = start_hooks(&inspect).await;
    let body = json!({"token": "t", "inputs": [scalar("Note", "ContentString", Some("n"))],
                      "configurationValues": [config("Region", "US")]});
    let answer = post_json(&server.url("/fs/Hooks/actions/inspect/call"), &body).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let call = inspect.seen.lock().unwrap().pop().unwrap();
    assert_eq!(call.inputs["Amount"], Value::Null);
    assert_eq!(call.inputs["Order"], Value::Null);
    assert_eq!(call.properties["Api Key"], Value::Null);
    assert_eq!(call.properties["authorization"], Value::Null);
    assert_eq!(call.properties["stateId"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn handler_error_is_500_with_its_message() {
    let inspect = Inspect::default();
    let server = start_hooks(&inspect).await;
    let body = json!({"token": "t", "inputs": [scalar("Note", "ContentString", Some("fail please"))],
                      "configurationValues": [config("Region", "US")]});
    let answer = post_json(&server.url("/fs/Hooks/actions/inspect/call"), &body).await;
    assert_eq!(answer.problem(500), "inspect refused the note");
    execution_id(&answer);

    // Required checks run before the handler.
    let before = inspect.seen.lock().unwrap().len();
    let body = json!({"token": "t", "inputs": [], "configurationValues": [config("Region", "US")]});
    let answer = post_json(&server.url("/fs/Hooks/actions/inspect/call"), &body).await;
    assert!(answer.problem(400).contains("'Note'"));
    assert_eq!(inspect.seen.lock().unwrap().len(), before);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// unknown actions, bodies

#[tokio::test]
async fn unknown_action_is_404() {
    let server = TestServer::start(&fixture("core")).await;
    let body = service_request("t", json!([]), Value::Null);
    for path in [
        "/fs/Sample/actions/nope",
        "/fs/Sample/actions/Echo",
        "/fs/Sample/actions/echo/more",
        "/fs/Sample/actions/",
    ] {
        let answer = post_json(&server.url(path), &body).await;
        let msg = answer.problem(404);
        assert!(!msg.is_empty(), "{path}");
        assert_eq!(answer.json()["uri"], path);
    }
    server.stop().await;
}

#[tokio::test]
async fn empty_body_is_400() {
    let server = TestServer::start(&fixture("core")).await;
    let answer = request(
        Method::POST,
        &server.url("/fs/Sample/actions/echo"),
        &[("content-type", "application/json")],
        bytes::Bytes::new(),
    )
    .await;
    let msg = answer.problem(400);
    assert!(msg.contains("empty"), "{msg}");
    server.stop().await;
}
