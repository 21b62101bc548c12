"""The article's own code, verbatim: the reference the tests compare to and the
baseline the benchmarks measure against.

Copied from PyImageSearch's "Training a DCGAN in PyTorch" (2021-10-25):
`pyimagesearch/dcgan.py` as printed, and from `dcgan_mnist.py` its
`weights_init` and the body of its training loop wrapped in a function (its
statements unchanged).
"""
# import the necessary packages
from torch.nn import ConvTranspose2d
from torch.nn import BatchNorm2d
from torch.nn import Conv2d
from torch.nn import Linear
from torch.nn import LeakyReLU
from torch.nn import ReLU
from torch.nn import Tanh
from torch.nn import Sigmoid
from torch import flatten
from torch import nn
import torch


class Generator(nn.Module):
	def __init__(self, inputDim=100, outputChannels=1):
		super(Generator, self).__init__()

		# first set of CONVT => RELU => BN
		self.ct1 = ConvTranspose2d(in_channels=inputDim,
			out_channels=128, kernel_size=4, stride=2, padding=0,
			bias=False)
		self.relu1 = ReLU()
		self.batchNorm1 = BatchNorm2d(128)

		# second set of CONVT => RELU => BN
		self.ct2 = ConvTranspose2d(in_channels=128, out_channels=64,
					kernel_size=3, stride=2, padding=1, bias=False)
		self.relu2 = ReLU()
		self.batchNorm2 = BatchNorm2d(64)

		# last set of CONVT => RELU => BN
		self.ct3 = ConvTranspose2d(in_channels=64, out_channels=32,
					kernel_size=4, stride=2, padding=1, bias=False)
		self.relu3 = ReLU()
		self.batchNorm3 = BatchNorm2d(32)

		# apply another upsample and transposed convolution, but
		# this time output the TANH activation
		self.ct4 = ConvTranspose2d(in_channels=32,
			out_channels=outputChannels, kernel_size=4, stride=2,
			padding=1, bias=False)
		self.tanh = Tanh()

	def forward(self, x):
		# pass the input through our first set of CONVT => RELU => BN
		# layers
		x = self.ct1(x)
		x = self.relu1(x)
		x = self.batchNorm1(x)

		# pass the output from previous layer through our second
		# CONVT => RELU => BN layer set
		x = self.ct2(x)
		x = self.relu2(x)
		x = self.batchNorm2(x)

		# pass the output from previous layer through our last set
		# of CONVT => RELU => BN layers
		x = self.ct3(x)
		x = self.relu3(x)
		x = self.batchNorm3(x)

		# pass the output from previous layer through CONVT2D => TANH
		# layers to get our output
		x = self.ct4(x)
		output = self.tanh(x)

		# return the output
		return output


class Discriminator(nn.Module):
	def __init__(self, depth, alpha=0.2):
		super(Discriminator, self).__init__()

		# first set of CONV => RELU layers
		self.conv1 = Conv2d(in_channels=depth, out_channels=32,
				kernel_size=4, stride=2, padding=1)
		self.leakyRelu1 = LeakyReLU(alpha, inplace=True)

		# second set of CONV => RELU layers
		self.conv2 = Conv2d(in_channels=32, out_channels=64, kernel_size=4,
				stride=2, padding=1)
		self.leakyRelu2 = LeakyReLU(alpha, inplace=True)

		# first (and only) set of FC => RELU layers
		self.fc1 = Linear(in_features=3136, out_features=512)
		self.leakyRelu3 = LeakyReLU(alpha, inplace=True)

		# sigmoid layer outputting a single value
		self.fc2 = Linear(in_features=512, out_features=1)
		self.sigmoid = Sigmoid()

	def forward(self, x):
		# pass the input through first set of CONV => RELU layers
		x = self.conv1(x)
		x = self.leakyRelu1(x)

		# pass the output from the previous layer through our second
		# set of CONV => RELU layers
		x = self.conv2(x)
		x = self.leakyRelu2(x)

		# flatten the output from the previous layer and pass it
		# through our first (and only) set of FC => RELU layers
		x = flatten(x, 1)
		x = self.fc1(x)
		x = self.leakyRelu3(x)

		# pass the output from the previous layer through our sigmoid
		# layer outputting a single value
		x = self.fc2(x)
		output = self.sigmoid(x)

		# return the output
		return output


# custom weights initialization called on generator and discriminator
def weights_init(model):
	# get the class name
	classname = model.__class__.__name__

	# check if the classname contains the word "conv"
	if classname.find("Conv") != -1:
		# intialize the weights from normal distribution
		nn.init.normal_(model.weight.data, 0.0, 0.02)

	# otherwise, check if the name contains the word "BatcnNorm"
	elif classname.find("BatchNorm") != -1:
		# intialize the weights from normal distribution and set the
		# bias to 0
		nn.init.normal_(model.weight.data, 1.0, 0.02)
		nn.init.constant_(model.bias.data, 0)


def article_step(gen, disc, genOpt, discOpt, criterion, images, noise,
		DEVICE=torch.device("cpu")):
	"""One iteration of the article's `for x in dataloader:` loop, its
	statements unchanged; `noise` is passed in instead of drawn so both
	loops can be fed the same numbers."""
	realLabel = 1
	fakeLabel = 0

	# zero out the discriminator gradients
	disc.zero_grad()

	# grab the images and send them to the device
	images = images.to(DEVICE)

	# get the batch size and create a labels tensor
	bs =  images.size(0)
	labels = torch.full((bs,), realLabel, dtype=torch.float,
		device=DEVICE)

	# forward pass through discriminator
	output = disc(images).view(-1)

	# calculate the loss on all-real batch
	errorReal = criterion(output, labels)

	# calculate gradients by performing a backward pass
	errorReal.backward()

	# generate a fake image batch using the generator
	fake = gen(noise)
	labels.fill_(fakeLabel)

	# perform a forward pass through discriminator using fake
	# batch data
	output = disc(fake.detach()).view(-1)
	errorFake = criterion(output, labels)

	# calculate gradients by performing a backward pass
	errorFake.backward()

	# compute the error for discriminator and update it
	errorD = errorReal + errorFake
	discOpt.step()

	# set all generator gradients to zero
	gen.zero_grad()

	# update the labels as fake labels are real for the generator
	# and perform a forward pass  of fake data batch through the
	# discriminator
	labels.fill_(realLabel)
	output = disc(fake).view(-1)

	# calculate generator's loss based on output from
	# discriminator and calculate gradients for generator
	errorG = criterion(output, labels)
	errorG.backward()

	# update the generator
	genOpt.step()

	return errorG, errorD
