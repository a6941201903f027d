class Probe:
    """torch: what it reports and runs."""

    def __init__(self):
        import torch

        self.torch = torch

    def version(self):
        return self.torch.__version__.split("+")[0]

    def cuda_build(self):
        return self.torch.version.cuda

    def gpus(self):
        if not self.torch.cuda.is_available():
            return []
        return [self.torch.cuda.get_device_name(i) for i in range(self.torch.cuda.device_count())]

    def cudnn_build(self):
        number = self.torch.backends.cudnn.version()
        return None if number is None else cudnn_text(number)

    def convolution(self, gpu):
        torch = self.torch
        device = "cuda:0" if gpu else "cpu"
        images = torch.ones(2, 3, 16, 16, device=device)
        weights = torch.ones(4, 3, 3, 3, device=device)
        result = torch.nn.functional.conv2d(images, weights)
        return tuple(result.shape), float(result[0, 0, 0, 0])

    def matmul(self, gpu):
        torch = self.torch
        device = "cuda:0" if gpu else "cpu"
        matrix = torch.ones(64, 64, device=device)
        return float((matrix @ matrix)[0, 0])

    def capability(self, number):
        return "%d.%d" % self.torch.cuda.get_device_capability(number)

    def arch_list(self):
        """The architectures of the build's kernels: `sm_80` (SASS), `compute_90` (PTX)."""
        return self.torch.cuda.get_arch_list()

    def all_reduce(self, count):
        """A sum over NCCL of a tensor on each of `count` GPUs: `count` in every element."""
        tensors = [self.torch.ones(4, device="cuda:%d" % i) for i in range(count)]
        self.torch.cuda.nccl.all_reduce(tensors)
        return [float(tensor[0]) for tensor in tensors]

    def nccl(self):
        version = self.torch.cuda.nccl.version()
        if isinstance(version, int):  # torch < 1.12: 2708 is 2.7.8
            return "%d.%d.%d" % (version // 1000, version % 1000 // 100, version % 100)
        return ".".join(str(p) for p in version)
