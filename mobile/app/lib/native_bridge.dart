// The one channel between Dart and the platform code (Swift App Intents,
// CoreLocation, Live Activity, WatchConnectivity; Kotlin Bluetooth receiver
// and location service). The native side never opens the database itself:
// every call lands here and goes to the one TachoCore of this process, so
// the trip recorder's state lives in exactly one place.

import 'dart:async';

import 'package:flutter/services.dart';

import 'src/rust/api/error.dart';
import 'src/rust/api/session.dart';
import 'src/rust/api/types.dart';

/// Channel name shared with ios/Runner/TachoChannel.swift and
/// android/.../TachoChannel.kt.
const channelName = 'tacho/native';

/// Routes platform calls to [core] and tells the platform when a trip starts
/// or ends (to run location updates and the Live Activity).
class NativeBridge {
  NativeBridge(this.core, {MethodChannel? channel})
      : channel = channel ?? const MethodChannel(channelName);

  final TachoCore core;
  final MethodChannel channel;
  StreamSubscription<CoreEventInfo>? _events;
  Timer? _ticker;

  /// Starts handling platform calls and forwarding trip events, then tells
  /// the platform Dart is ready (App Intents wait for this on a cold start).
  Future<void> start() async {
    channel.setMethodCallHandler(_handle);
    _events = core.watchEvents().listen(_forward);
    // The core ends a disconnected trip only when time is reported to it:
    // tick while the process runs (it keeps running in the background while
    // a trip records, for the location updates).
    _ticker = Timer.periodic(const Duration(seconds: 30), (_) {
      // A failed tick is retried by the next one.
      unawaited(core.tick().then<void>((_) {}, onError: (Object _) {}));
    });
    final active = await core.activeTrip();
    await channel.invokeMethod<void>('dartReady', {
      'activeTripId': active?.trip.id,
      'startedAtMs': active?.trip.startedAtMs,
    });
  }

  /// Stops handling calls.
  Future<void> stop() async {
    channel.setMethodCallHandler(null);
    _ticker?.cancel();
    await _events?.cancel();
  }

  Future<Object?> _handle(MethodCall call) async {
    final args = (call.arguments as Map<Object?, Object?>?) ?? const {};
    try {
      switch (call.method) {
        case 'connect':
          final r = await core.connect(
            source: _source(args['source'] as String?),
            carHint: args['carHint'] as String?,
          );
          return _feed(r);
        case 'disconnect':
          return _feed(await core.disconnect());
        case 'endTrip':
          return _feed(await core.endTrip());
        case 'pings':
          final fixes = (args['fixes'] as List<Object?>? ?? const [])
              .cast<Map<Object?, Object?>>()
              .map(_ping)
              .toList();
          return _feed(await core.pingBatch(pings: fixes));
        case 'startTimer':
          final e = await core.startTimer(
            project: args['project'] as String?,
            description: (args['description'] as String?) ?? '',
            tags: const [],
          );
          return e.id;
        case 'stopTimer':
          final e = await core.stopTimer();
          return e.id;
        case 'mintWatchSession':
          final handoff = await core.mintWatchSession(
            watchDeviceId: args['deviceId'] as String,
            watchName: (args['name'] as String?) ?? 'Apple Watch',
          );
          return handoff.json;
        case 'activeTrip':
          final a = await core.activeTrip();
          if (a == null) return null;
          return {
            'tripId': a.trip.id,
            'startedAtMs': a.trip.startedAtMs,
            'distanceM': a.liveDistanceM,
          };
        default:
          throw MissingPluginException('tacho/native: ${call.method}');
      }
    } on ApiError catch (e) {
      throw PlatformException(code: e.kind.name, message: e.message);
    }
  }

  Future<void> _forward(CoreEventInfo e) async {
    switch (e.kind) {
      case CoreEventKind.tripStarted:
        final a = await core.activeTrip();
        await channel.invokeMethod<void>('tripStarted', {
          'tripId': e.tripId,
          'startedAtMs': a?.trip.startedAtMs,
        });
      case CoreEventKind.tripProgress:
        await channel.invokeMethod<void>('tripProgress', {
          'tripId': e.tripId,
          'distanceM': e.distanceM,
        });
      case CoreEventKind.tripEnded:
        await channel.invokeMethod<void>('tripEnded', {'tripId': e.tripId});
      default:
        break;
    }
  }
}

TripSource _source(String? name) => switch (name) {
      'carplay' => TripSource.carplay,
      'bluetooth' => TripSource.bluetooth,
      'hook' => TripSource.hook,
      _ => TripSource.manual,
    };

PingInput _ping(Map<Object?, Object?> m) => PingInput(
      atMs: (m['atMs'] as num).toInt(),
      lat: (m['lat'] as num).toDouble(),
      lon: (m['lon'] as num).toDouble(),
      accuracyM: (m['accuracy'] as num?)?.toDouble(),
      speedMps: (m['speed'] as num?)?.toDouble(),
      headingDeg: (m['heading'] as num?)?.toDouble(),
      altitudeM: (m['altitude'] as num?)?.toDouble(),
    );

Map<String, Object?> _feed(FeedResult r) => {
      'started': r.startedTripIds,
      'ended': r.endedTripIds,
      'points': r.points,
      'rejected': r.rejectedCount,
    };

/// Android only: which paired Bluetooth devices are cars, so the Bluetooth
/// receiver starts trips for them and not for headsets.
class CarBluetooth {
  const CarBluetooth([this.channel = const MethodChannel(channelName)]);

  final MethodChannel channel;

  /// Paired devices as (name, address).
  Future<List<(String, String)>> pairedDevices() async {
    final list = await channel.invokeListMethod<Map<Object?, Object?>>('bondedDevices') ?? const [];
    return [
      for (final d in list) ((d['name'] as String?) ?? '?', d['address'] as String),
    ];
  }

  /// The addresses currently treated as cars.
  Future<Set<String>> chosen() async =>
      (await channel.invokeListMethod<String>('carBluetoothAddresses') ?? const []).toSet();

  /// Replaces the set of car addresses.
  Future<void> choose(Set<String> addresses) =>
      channel.invokeMethod<void>('setCarBluetoothAddresses', {'addresses': addresses.toList()});
}
