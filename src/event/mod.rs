//! The event registry at work: deployed event and channel definitions (Flowable's
//! EventModel and ChannelModel), events sent through them, and the Flow listeners that
//! wait for them.
//!
//! An event is an instance of an event definition: its key and a payload of typed
//! fields. It arrives by `POST /event-registry-api/event-registry-runtime/event-instances`
//! (the admin API), by an inbound channel — the webhook `/events/{channelKey}` of an
//! `http` channel, or a queue of a `rabbit` channel — and reaches:
//!
//! - its **outbound channels** (`outboundChannelKeys`): a POST to an `http` channel's URL,
//!   a publish with publisher confirms to a `rabbit` channel's exchange and routing key;
//! - its **subscribers**: every mounted message action with `"events": [key]`, run as an
//!   execution per event with its inputs taken from the payload by name;
//! - the **Flow listeners** registered for it through `POST /fs/{service}/listener`,
//!   called back with a `ListenerServiceResponse`.
//!
//! [`Events`] is the runtime's one instance: it holds the installed [`Catalog`] (swapped
//! whole by the admin API when deployments change), the RabbitMQ broker connection
//! (`rabbit`), and the listener registrations (`listener`).

pub(crate) mod catalog;
pub(crate) mod model;

mod bus;
mod listener;
mod rabbit;
mod subscriber;
mod webhook;

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, Response};
use serde_json::{Map, Value};

use crate::auth::Auth;
use crate::error::Result;
use crate::http::body::{ReqBody, ResBody};
use crate::router::{Mounts, Service};
use crate::shared::Shared;
use crate::store::keystore::KeystoreFile;
use crate::store::listeners::ListenerStore;
pub(crate) use catalog::{Catalog, ChannelDefinition, DefinitionInfo, EventDefinition};

/// The URL prefix of inbound HTTP channels: `/events/{channelKey}`.
pub(crate) const WEBHOOK_PREFIX: &str = "/events/";

/// The event registry of one runtime.
#[derive(Debug)]
pub(crate) struct Events {
    catalog: ArcSwap<Catalog>,
    shared: Shared,
    mounts: Arc<Mounts>,
    auth: Arc<Auth>,
    keystore: Arc<KeystoreFile>,
    broker: rabbit::Broker,
    listeners: listener::Listeners,
}

impl Events {
    /// The event registry of a runtime; nothing is opened or connected until needed.
    pub(crate) fn new(
        shared: Shared,
        mounts: Arc<Mounts>,
        auth: Arc<Auth>,
        keystore: Arc<KeystoreFile>,
        listeners: Arc<dyn ListenerStore>,
    ) -> Arc<Self> {
        let broker = rabbit::Broker::new(shared.config.amqp_url.clone());
        let listeners = listener::Listeners::with_store(listeners);
        Arc::new(Events {
            catalog: ArcSwap::from_pointee(Catalog::default()),
            shared,
            mounts,
            auth,
            keystore,
            broker,
            listeners,
        })
    }

    /// The installed definitions.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// Installs `catalog` (what the deployments define now): later events resolve against
    /// it, and the consumers of inbound `rabbit` channels are started and stopped to
    /// match it.
    pub(crate) fn install(self: &Arc<Self>, catalog: Catalog) {
        let inbound: Vec<Arc<ChannelDefinition>> = catalog
            .inbound_channels()
            .into_iter()
            .filter(|c| matches!(c.model.transport, model::Transport::Rabbit { .. }))
            .collect();
        self.catalog.store(Arc::new(catalog));
        let events = Arc::downgrade(self);
        let handler: rabbit::Handler = Arc::new(move |channel, body| {
            let events = events.clone();
            Box::pin(async move {
                match events.upgrade() {
                    Some(events) => events.accept(&channel, &body).await,
                    None => Err(crate::error::Error::Unavailable(
                        "the runtime is shutting down".into(),
                    )),
                }
            })
        });
        self.broker.sync_consumers(inbound, handler);
    }

    /// Sends `event` with `payload` (already checked against its model) from tenant
    /// `tenant_id` (`""`: none): to its outbound channels (awaited: an error names the
    /// channel that did not take it), its subscribers and its Flow listeners (started).
    ///
    /// # Errors
    ///
    /// An outbound channel did not take the event (502, or 503 when the broker is not
    /// reachable).
    pub(crate) async fn send(
        &self,
        event: &Arc<EventDefinition>,
        payload: Map<String, Value>,
        tenant_id: &str,
    ) -> Result<()> {
        bus::send(self, event, payload, tenant_id, false).await
    }

    /// Turns one message of inbound `channel` into an event and sends it, waiting for its
    /// subscribers to finish (a queue's message is acknowledged only after): the body is
    /// JSON, the event key and tenant come from the channel's detection rules, the
    /// payload fields by name.
    ///
    /// # Errors
    ///
    /// 400 for a body that is not a JSON object, names no deployed event, or does not
    /// match the event's model; what [`Events::send`] fails with.
    pub(crate) async fn accept(&self, channel: &ChannelDefinition, body: &Bytes) -> Result<()> {
        bus::accept(self, channel, body).await
    }

    /// Answers `POST /events/{channelKey}`: an inbound `http` channel's webhook.
    pub(crate) async fn webhook(&self, req: Request<ReqBody>) -> Response<ResBody> {
        webhook::handle(self, req).await
    }

    /// Answers `POST /fs/{service}/listener`: registers a Flow listener.
    pub(crate) async fn listen(
        &self,
        service: Arc<Service>,
        req: Request<ReqBody>,
    ) -> Response<ResBody> {
        listener::register(self, service, req).await
    }
}
