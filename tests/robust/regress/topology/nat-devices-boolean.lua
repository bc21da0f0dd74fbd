return { nat_devices = true }
