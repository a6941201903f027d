class Probe:
    """JAX: what it reports and runs."""

    def __init__(self):
        # Memory as it is needed, not 75% of the GPU at the first operation: another process may
        # be using the GPU (a shared node pool, a user's notebook).
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        import jax
        import jax.numpy as jnp

        self.jax = jax
        self.jnp = jnp

    def version(self):
        return self.jax.__version__

    def versions(self):
        """The CUDA plugin's build versions, None without the plugin (a CPU install)."""
        try:
            from jax._src.lib import cuda_versions  # noqa: PLC0415 # private, moves between releases
        except ImportError:
            return None
        return cuda_versions

    def cuda_build(self):
        versions = self.versions()
        if versions is None:
            return None
        try:
            number = versions.cuda_runtime_build_version()
        except Exception:  # noqa: BLE001 # the plugin's API differs between releases
            return "unknown"
        return "%d.%d" % (number // 1000, number % 1000 // 10)

    def gpus(self):
        return [str(device) for device in self.jax.devices() if device.platform == "gpu"]

    def cudnn_build(self):
        versions = self.versions()
        try:
            number = versions.cudnn_build_version() if versions is not None else None
        except Exception:  # noqa: BLE001 # the plugin's API differs between releases
            return None
        return None if number is None else cudnn_text(number)

    def device(self, gpu):
        return self.jax.devices("gpu" if gpu else "cpu")[0]

    def convolution(self, gpu):
        jax, jnp = self.jax, self.jnp
        device = self.device(gpu)
        images = jax.device_put(jnp.ones((2, 3, 16, 16)), device)
        weights = jax.device_put(jnp.ones((4, 3, 3, 3)), device)
        result = jax.lax.conv(images, weights, (1, 1), "VALID")
        return tuple(result.shape), float(result[0, 0, 0, 0])

    def matmul(self, gpu):
        matrix = self.jax.device_put(self.jnp.ones((64, 64)), self.device(gpu))
        return float((matrix @ matrix)[0, 0])

    def capability(self, number):
        return str(self.jax.devices("gpu")[number].compute_capability)

    def arch_list(self):
        return None  # JAX does not report its kernels' architectures

    def all_reduce(self, count):
        """A sum across `count` GPUs (NCCL, through pmap): `count` in every element."""
        jax = self.jax
        summed = jax.pmap(lambda x: jax.lax.psum(x, "gpus"), axis_name="gpus", devices=jax.devices("gpu")[:count])
        result = summed(self.jnp.ones((count, 4)))
        return [float(row[0]) for row in result]

    def nccl(self):
        raise NotImplementedError("the self-test does not probe JAX's NCCL")
