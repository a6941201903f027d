class Probe:
    """TensorFlow: what it reports and runs."""

    def __init__(self):
        # Not all of the GPU's memory at start: another process may be using the GPU.
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        import tensorflow as tf

        if hasattr(tf.compat.v1, "enable_eager_execution") and not tf.executing_eagerly():
            tf.compat.v1.enable_eager_execution()  # TensorFlow 1.x
        self.tf = tf

    def version(self):
        return self.tf.__version__

    def build_info(self):
        get = getattr(self.tf.sysconfig, "get_build_info", None)  # TensorFlow 2.3 and later
        return dict(get()) if get else {}

    def cuda_build(self):
        info = self.build_info()
        if not info:  # TensorFlow before 2.3 says whether, not which
            return "unknown" if self.tf.test.is_built_with_cuda() else None
        return info.get("cuda_version") if info.get("is_cuda_build") else None

    def gpus(self):
        config = self.tf.config
        listing = getattr(config, "list_physical_devices", None) or config.experimental.list_physical_devices
        return [device.name for device in listing("GPU")]

    def cudnn_build(self):
        return self.build_info().get("cudnn_version")

    def convolution(self, gpu):
        tf = self.tf
        with tf.device("/GPU:0" if gpu else "/CPU:0"):
            images = tf.ones([2, 16, 16, 3])
            weights = tf.ones([3, 3, 3, 4])
            result = tf.nn.conv2d(images, weights, strides=1, padding="VALID")
        return tuple(result.shape.as_list()), float(result[0, 0, 0, 0])

    def matmul(self, gpu):
        tf = self.tf
        with tf.device("/GPU:0" if gpu else "/CPU:0"):
            matrix = tf.ones([64, 64])
            result = tf.linalg.matmul(matrix, matrix)
        return float(result[0, 0])

    def capability(self, number):
        device = self.tf.config.list_physical_devices("GPU")[number]
        return "%d.%d" % self.tf.config.experimental.get_device_details(device)["compute_capability"]

    def arch_list(self):
        """The architectures of the build's kernels (TensorFlow 2.3 and later): `sm_80`, `compute_90`."""
        return self.build_info().get("cuda_compute_capabilities")

    def all_reduce(self, count):
        """A sum over NCCL across `count` GPUs, one replica each: `count` in every element."""
        tf = self.tf
        devices = ["/GPU:%d" % i for i in range(count)]
        strategy = tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.NcclAllReduce())
        per_replica = strategy.run(lambda: tf.ones([4]))
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return [float(value) for value in total.numpy()[:1]] * count

    def nccl(self):
        raise NotImplementedError("TensorFlow's wheels do not ship NCCL")
