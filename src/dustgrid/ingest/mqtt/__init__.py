"""MQTT ingest: a QoS 1 subscriber with a persistent session (see ``subscriber.py``)."""
