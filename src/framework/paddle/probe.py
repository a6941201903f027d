class Probe:
    """PaddlePaddle: what it reports and runs."""

    def __init__(self):
        import paddle

        self.paddle = paddle

    def version(self):
        return self.paddle.__version__.split("+")[0]

    def cuda_build(self):
        found = self.paddle.version.cuda()
        return None if found in (None, "False") else found

    def gpus(self):
        cuda = self.paddle.device.cuda
        if not self.paddle.device.is_compiled_with_cuda():
            return []
        return [cuda.get_device_name(i) for i in range(cuda.device_count())]

    def cudnn_build(self):
        found = self.paddle.version.cudnn()
        return None if found in (None, "False") else found

    def convolution(self, gpu):
        paddle = self.paddle
        paddle.set_device("gpu:0" if gpu else "cpu")
        images = paddle.ones([2, 3, 16, 16])
        weights = paddle.ones([4, 3, 3, 3])
        result = paddle.nn.functional.conv2d(images, weights)
        return tuple(result.shape), float(result[0, 0, 0, 0])

    def matmul(self, gpu):
        paddle = self.paddle
        paddle.set_device("gpu:0" if gpu else "cpu")
        matrix = paddle.ones([64, 64])
        return float(paddle.matmul(matrix, matrix)[0, 0])

    def capability(self, number):
        return "%d.%d" % self.paddle.device.cuda.get_device_capability(number)

    def arch_list(self):
        return None  # PaddlePaddle does not report its kernels' architectures

    def all_reduce(self, count):
        raise NotImplementedError("an all-reduce of PaddlePaddle needs one process per GPU (paddle.distributed.launch)")

    def nccl(self):
        raise NotImplementedError("the self-test does not probe PaddlePaddle's NCCL")
