"""What a connector is written against: the hook specifications, the manifest, the models, the
errors, the context a hook receives and the demo shop. Connectors reach it through the door,
``core.hubapi``; nothing here imports the use cases or the infrastructure (but the coordination
service's type, which the context carries)."""
