//! Track importers: GPX, NMEA 0183, GeoJSON and CSV into pings.
