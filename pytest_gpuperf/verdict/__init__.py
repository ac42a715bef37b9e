"""The verdict on a measurement: correctness, the gate, history bands, attribution."""
