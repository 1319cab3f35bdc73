// One Flutter engine per process running lib/main.dart, started on demand
// (by the activity, or by a Bluetooth event with no UI). Native code never
// opens the database: it calls Dart's NativeBridge over "tacho/native".
package app.tacho

import android.bluetooth.BluetoothManager
import android.content.Context
import android.os.Handler
import android.os.Looper
import android.util.Log
import io.flutter.embedding.engine.FlutterEngine
import io.flutter.embedding.engine.dart.DartExecutor
import io.flutter.plugin.common.MethodChannel

object TachoEngine {
    private var engine: FlutterEngine? = null
    private var channel: MethodChannel? = null
    private var dartReady = false
    private val pending = mutableListOf<() -> Unit>()
    private val main = Handler(Looper.getMainLooper())

    /** The running engine, started if needed (main thread only). */
    fun engine(context: Context): FlutterEngine {
        engine?.let { return it }
        val app = context.applicationContext
        val e = FlutterEngine(app)
        val ch = MethodChannel(e.dartExecutor.binaryMessenger, "tacho/native")
        ch.setMethodCallHandler { call, result ->
            val args = call.arguments as? Map<*, *> ?: emptyMap<String, Any?>()
            when (call.method) {
                "dartReady" -> {
                    dartReady = true
                    pending.forEach { it() }
                    pending.clear()
                    if (args["activeTripId"] != null) TripLocationService.start(app)
                }
                "tripStarted" -> TripLocationService.start(app)
                "tripEnded" -> TripLocationService.stop(app)
                // The Cars screen picks which paired devices are cars.
                "bondedDevices" -> return@setMethodCallHandler result.success(bondedDevices(app))
                "carBluetoothAddresses" ->
                    return@setMethodCallHandler result.success(CarBluetoothReceiver.carAddresses(app).toList())
                "setCarBluetoothAddresses" -> {
                    val addresses = (args["addresses"] as? List<*>)?.filterIsInstance<String>() ?: emptyList()
                    app.getSharedPreferences("tacho", Context.MODE_PRIVATE).edit()
                        .putStringSet("car_bluetooth_addresses", addresses.toSet()).apply()
                }
            }
            result.success(null)
        }
        e.dartExecutor.executeDartEntrypoint(DartExecutor.DartEntrypoint.createDefault())
        engine = e
        channel = ch
        return e
    }

    /** Paired Bluetooth devices as name/address maps (empty without permission). */
    private fun bondedDevices(context: Context): List<Map<String, String?>> {
        val manager = context.getSystemService(BluetoothManager::class.java) ?: return emptyList()
        return try {
            manager.adapter?.bondedDevices.orEmpty().map { mapOf("name" to it.name, "address" to it.address) }
        } catch (e: SecurityException) {
            emptyList()
        }
    }

    /** Calls a Dart handler once Dart has opened the core; errors are logged. */
    fun call(context: Context, method: String, args: Map<String, Any?> = emptyMap()) {
        main.post {
            engine(context)
            val send = {
                channel?.invokeMethod(method, args, object : MethodChannel.Result {
                    override fun success(result: Any?) {}
                    override fun error(code: String, message: String?, details: Any?) {
                        Log.w("tacho", "$method refused: $code $message")
                    }
                    override fun notImplemented() {
                        Log.w("tacho", "$method not handled by Dart")
                    }
                })
                Unit
            }
            if (dartReady) send() else pending.add(send)
        }
    }
}
