// Foreground location service while a trip records: fixes go to Dart's
// TachoCore as ping batches (filtering is the core's job). Uses the platform
// LocationManager so the app needs no Google Play services.
package app.tacho

import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.Service
import android.content.Context
import android.content.Intent
import android.content.pm.ServiceInfo
import android.location.Location
import android.location.LocationListener
import android.location.LocationManager
import android.os.Build
import android.os.IBinder
import android.os.Looper

class TripLocationService : Service(), LocationListener {
    companion object {
        private const val CHANNEL = "trip"
        private const val NOTIFICATION_ID = 1

        fun start(context: Context) {
            val intent = Intent(context, TripLocationService::class.java)
            if (Build.VERSION.SDK_INT >= 26) context.startForegroundService(intent)
            else context.startService(intent)
        }

        fun stop(context: Context) {
            context.stopService(Intent(context, TripLocationService::class.java))
        }
    }

    private lateinit var locations: LocationManager

    override fun onBind(intent: Intent?): IBinder? = null

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        if (Build.VERSION.SDK_INT >= 26) {
            getSystemService(NotificationManager::class.java).createNotificationChannel(
                NotificationChannel(CHANNEL, "Trip recording", NotificationManager.IMPORTANCE_LOW)
            )
        }
        val notification = (if (Build.VERSION.SDK_INT >= 26) Notification.Builder(this, CHANNEL)
            else @Suppress("DEPRECATION") Notification.Builder(this))
            .setContentTitle("Tacho is recording a trip")
            .setSmallIcon(android.R.drawable.ic_menu_mylocation)
            .setOngoing(true)
            .build()
        if (Build.VERSION.SDK_INT >= 29) {
            startForeground(NOTIFICATION_ID, notification, ServiceInfo.FOREGROUND_SERVICE_TYPE_LOCATION)
        } else {
            startForeground(NOTIFICATION_ID, notification)
        }
        locations = getSystemService(LocationManager::class.java)
        try {
            locations.requestLocationUpdates(
                LocationManager.GPS_PROVIDER, 2_000L, 10f, this, Looper.getMainLooper()
            )
        } catch (e: SecurityException) {
            // No location permission: the trip still records start and end.
            stopSelf()
        }
        return START_STICKY
    }

    override fun onDestroy() {
        if (this::locations.isInitialized) locations.removeUpdates(this)
        super.onDestroy()
    }

    override fun onLocationChanged(location: Location) = onLocationChanged(listOf(location))

    override fun onLocationChanged(batch: List<Location>) {
        val fixes = batch.map { l ->
            mapOf(
                "atMs" to l.time,
                "lat" to l.latitude,
                "lon" to l.longitude,
                "accuracy" to (if (l.hasAccuracy()) l.accuracy.toDouble() else null),
                "speed" to (if (l.hasSpeed()) l.speed.toDouble() else null),
                "heading" to (if (l.hasBearing()) l.bearing.toDouble() else null),
                "altitude" to (if (l.hasAltitude()) l.altitude else null),
            )
        }
        TachoEngine.call(this, "pings", mapOf("fixes" to fixes))
    }
}
