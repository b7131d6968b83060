"""Resources and devices: what the capture engine reads from.

- The contract: :class:`Resource` (``api``, ``name``, ``methods()``, ``async capture(method,
  params) -> CaptureResult``, ``async close()``), the readings it returns, and the
  :class:`~dmsim.errors.DeviceError` family it raises.
- Simulated models for every type and method of the documents' table, deterministic from the
  seed and the simulated time, with injectable faults (:class:`SimDevice`), built by
  :func:`build_sim_resource` / :func:`build_sim_resources`.
- Real drivers behind injectable transports (MPU-6050 over I2C, ESP32 over serial, GPIO via
  gpiozero, cameras via a frame source); hardware libraries are imported only when used.
- Fakes for those transports live in :mod:`dmsim.devices.fakes`.
"""

from ._actuators import SimGantry, SimServo
from ._arm import SimArm
from ._board import SimBoard, esp32_adc_code, esp32_adc_volts
from ._camera import SimCamera, encode_image
from ._capture_control import CAPTURE_CONTROL_MODEL, SimCaptureControl
from ._conformance import BINARY_METHODS, ConformanceError, check_capture_result, check_resource
from ._driver import RealDriver
from ._errors import (
    DeviceDisconnected,
    DeviceParamError,
    DeviceReadError,
    DeviceTimeout,
    DeviceUnavailable,
    WrongDevice,
    error_kind,
)
from ._esp32 import Esp32Board, open_serial
from ._esp32_protocol import (
    MSG_HELLO,
    MSG_SAMPLE,
    BoardSample,
    SeqEvent,
    SeqTracker,
    decode_sample,
    encode_sample,
)
from ._factory import SimResourceSpec, build_sim_resource, build_sim_resources
from ._faults import FAULT_KINDS
from ._framesource import CameraFrame, FrameSource, FrameSourceCamera, Picamera2Source
from ._framing import (
    FRAME_ERROR_KINDS,
    PROTOCOL_VERSION,
    DecoderStatistics,
    FeedResult,
    FrameDecoder,
    SerialFrame,
    encode_frame,
)
from ._gpio import GpioBoard
from ._imu import GRAVITY, ImuMotion, ImuTruth, SimMovementSensor
from ._kinematics import (
    UR5_DH,
    DhJoint,
    OrientationVector,
    Pose,
    forward_kinematics,
    matrix_from_orientation_vector,
    orientation_vector_from_matrix,
)
from ._motor import Shaft, SimEncoder, SimMotor
from ._mpu6050 import (
    ACCEL_RANGES,
    GYRO_RANGES,
    MPU6050_IDS,
    I2CBus,
    ImuSample,
    Mpu6050,
    decode_imu_block,
    open_smbus,
)
from ._params import PayloadOptions
from ._pcd import PcdError, PointCloud, encode_pcd, parse_pcd
from ._readings import (
    MIME_JPEG,
    MIME_PCD,
    MIME_PNG,
    Annotations,
    BinaryReading,
    BoundingBox,
    CaptureResult,
    Classification,
    Reading,
    TabularReading,
    annotations_to_proto,
    mime_type_to_proto,
    tabular_to_struct,
)
from ._real_factory import REAL_MODELS, build_real_resource
from ._resource import (
    API_BY_TYPE,
    METHODS_BY_TYPE,
    DeviceStatistics,
    FaultInjectable,
    Resource,
    resolve_api,
)
from ._scene import SCENES, Scene, SceneObject, read_frame_strip
from ._sensors import SENSOR_MODELS, SimSensor
from ._sim import SimDevice, SimTime
from ._vision import SimVision

__all__ = [
    "ACCEL_RANGES",
    "API_BY_TYPE",
    "BINARY_METHODS",
    "CAPTURE_CONTROL_MODEL",
    "FAULT_KINDS",
    "FRAME_ERROR_KINDS",
    "GRAVITY",
    "GYRO_RANGES",
    "METHODS_BY_TYPE",
    "MIME_JPEG",
    "MIME_PCD",
    "MIME_PNG",
    "MPU6050_IDS",
    "MSG_HELLO",
    "MSG_SAMPLE",
    "PROTOCOL_VERSION",
    "REAL_MODELS",
    "SCENES",
    "SENSOR_MODELS",
    "UR5_DH",
    "Annotations",
    "BinaryReading",
    "BoardSample",
    "BoundingBox",
    "CameraFrame",
    "CaptureResult",
    "Classification",
    "ConformanceError",
    "DecoderStatistics",
    "DeviceDisconnected",
    "DeviceParamError",
    "DeviceReadError",
    "DeviceStatistics",
    "DeviceTimeout",
    "DeviceUnavailable",
    "DhJoint",
    "Esp32Board",
    "FaultInjectable",
    "FeedResult",
    "FrameDecoder",
    "FrameSource",
    "FrameSourceCamera",
    "GpioBoard",
    "I2CBus",
    "ImuMotion",
    "ImuSample",
    "ImuTruth",
    "Mpu6050",
    "OrientationVector",
    "PayloadOptions",
    "PcdError",
    "Picamera2Source",
    "PointCloud",
    "Pose",
    "Reading",
    "RealDriver",
    "Resource",
    "Scene",
    "SceneObject",
    "SeqEvent",
    "SeqTracker",
    "SerialFrame",
    "Shaft",
    "SimArm",
    "SimBoard",
    "SimCamera",
    "SimCaptureControl",
    "SimDevice",
    "SimEncoder",
    "SimGantry",
    "SimMotor",
    "SimMovementSensor",
    "SimResourceSpec",
    "SimSensor",
    "SimServo",
    "SimTime",
    "SimVision",
    "TabularReading",
    "WrongDevice",
    "annotations_to_proto",
    "build_real_resource",
    "build_sim_resource",
    "build_sim_resources",
    "check_capture_result",
    "check_resource",
    "decode_imu_block",
    "decode_sample",
    "encode_frame",
    "encode_image",
    "encode_pcd",
    "encode_sample",
    "error_kind",
    "esp32_adc_code",
    "esp32_adc_volts",
    "forward_kinematics",
    "matrix_from_orientation_vector",
    "mime_type_to_proto",
    "open_serial",
    "open_smbus",
    "orientation_vector_from_matrix",
    "parse_pcd",
    "read_frame_strip",
    "resolve_api",
    "tabular_to_struct",
]
