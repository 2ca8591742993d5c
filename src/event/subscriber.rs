//! Subscribers: message actions with `"events": [key]`, run once per event.
