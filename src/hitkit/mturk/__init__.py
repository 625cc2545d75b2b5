"""The MTurk protocol shared by server and toolkit: service model, XML formats, ids, fees. No I/O."""
