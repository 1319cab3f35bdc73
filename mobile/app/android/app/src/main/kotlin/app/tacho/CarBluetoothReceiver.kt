// Car Bluetooth connect/disconnect -> trip connect/disconnect. Only the
// chosen cars' device addresses count (stored by the app under
// "car_bluetooth_addresses"); a headset connecting starts nothing.
package app.tacho

import android.bluetooth.BluetoothDevice
import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.os.Build

class CarBluetoothReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val device: BluetoothDevice? = if (Build.VERSION.SDK_INT >= 33) {
            intent.getParcelableExtra(BluetoothDevice.EXTRA_DEVICE, BluetoothDevice::class.java)
        } else {
            @Suppress("DEPRECATION")
            intent.getParcelableExtra(BluetoothDevice.EXTRA_DEVICE)
        }
        val address = device?.address ?: return
        if (address !in carAddresses(context)) return
        val name = try { device.name } catch (e: SecurityException) { null }
        when (intent.action) {
            BluetoothDevice.ACTION_ACL_CONNECTED -> {
                TripLocationService.start(context)
                TachoEngine.call(context, "connect", mapOf("source" to "bluetooth", "carHint" to name))
            }
            BluetoothDevice.ACTION_ACL_DISCONNECTED ->
                // The core ends the trip after its grace period; the service
                // stops when Dart reports the trip ended.
                TachoEngine.call(context, "disconnect")
        }
    }

    companion object {
        /** The addresses chosen on the Cars screen. */
        fun carAddresses(context: Context): Set<String> =
            context.getSharedPreferences("tacho", Context.MODE_PRIVATE)
                .getStringSet("car_bluetooth_addresses", emptySet()) ?: emptySet()
    }
}
